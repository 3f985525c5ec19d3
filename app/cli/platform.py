"""The commands that run the platform: ``dev`` (all of it), ``web``, ``worker``, and its keys."""

from __future__ import annotations

import errno
import os
import socket
import sys
from typing import TYPE_CHECKING

import click

from app.cli.dev import dev
from app.infra.config import Config, ConfigError
from app.infra.processes import python_command

if TYPE_CHECKING:
    from app.wiring import Services


#: Exit code of a command that cannot run as configured (click uses 2 for wrong usage too).
EXIT_CONFIG = 2


def check_config() -> Config:
    """This process's configuration, read from its environment; one it cannot use stops the command, saying why."""
    try:
        return Config.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def redis_config() -> Config:
    """The configuration of a command that needs Redis: ``REDIS_URL`` (or ``REDIS_SENTINELS``), or the
    running ``dev`` stack's Redis; with neither, exit 2 saying what to set (never a Redis nobody chose)."""
    from app.cli.dev import running_stacks

    if not os.environ.get("REDIS_URL") and not os.environ.get("REDIS_SENTINELS"):
        stacks = running_stacks()
        if len(stacks) == 1:
            os.environ["REDIS_URL"] = stacks[0].redis_url
            click.echo(f"(using the Redis of the dev stack at {stacks[0].api_url}: {stacks[0].redis_url})", err=True)
        else:
            where = (
                "several dev stacks run: " + ", ".join(f"{s.api_url} uses {s.redis_url}" for s in stacks)
                if stacks
                else "no dev stack runs on this machine"
            )
            click.echo(f"Error: REDIS_URL is not set and {where}; set REDIS_URL=redis://host:port/db", err=True)
            sys.exit(EXIT_CONFIG)
    return check_config()


def check_port(host: str, port: int) -> None:
    """Exit 2 with a clear message when ``host:port`` cannot be listened on (in use, most often)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = "is in use (another server?)" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc})"
            click.echo(f"Error: port {port} on {host} {reason}: choose another with --port or PORT", err=True)
            sys.exit(EXIT_CONFIG)


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT or 8000).")
def web(port: int | None) -> None:
    """Serve the HTTP API with gunicorn on $PORT (default 8000)."""
    if port is not None:
        os.environ["PORT"] = str(port)
    redis_config()
    check_port(os.environ.get("HOST", "0.0.0.0"), int(os.environ.get("PORT", "8000")))
    command = python_command("app.infra.web_server")
    os.execv(command[0], command)


@click.command()
def worker() -> None:
    """Run worker processes (jobs and webhooks), replacing any that dies."""
    redis_config()
    from workers.supervisor import main as supervise

    sys.exit(supervise())


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (kept in Redis as digests only)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
@click.option("--admin", is_flag=True, help="An admin key: sees and steers every job, /workers, /queues.")
@click.option(
    "--max-priority",
    type=click.IntRange(0, 9),
    default=9,
    show_default=True,
    help="Highest job priority the key may ask for (403 above it).",
)
def create_key(name: str, admin: bool, max_priority: int) -> None:
    """Create a key and print it: it is shown this once."""
    from app.services.auth import ADMIN, CLIENT

    key, record = _services().auth.create_key(name, ADMIN if admin else CLIENT, max_priority)
    click.echo(f"{record['id']}  {record['name']}  ({record['role']}, max priority {record['max_priority']})")
    click.echo(key)


@keys.command("list")
def list_keys() -> None:
    """List the keys (ids and names; the keys themselves are not kept)."""
    for record in _services().auth.list_keys():
        role, max_priority = record.get("role", "client"), record.get("max_priority", "9")
        click.echo(f"{record['id']}  {record['created_at']}  {role:<6}  max priority {max_priority}  {record['name']}")


@keys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke a key by its id (effective within 5 seconds)."""
    if not _services().auth.revoke(key_id):
        raise click.ClickException(f"no key with id {key_id!r}")
    click.echo(f"revoked {key_id}")


def _services() -> Services:
    """Built only when a command needs Redis, so that the others start fast."""
    from app.wiring import build_services

    return build_services(redis_config())


@keys.command("open-api")
def open_api() -> None:
    """Stop requiring keys (once every created key is revoked): the API becomes open to anyone."""
    if not _services().auth.open_api():
        raise click.ClickException("keys still exist: revoke them first")
    click.echo("the API no longer requires keys (unless API_KEYS is set)")


@click.command("webhook-secret")
def webhook_secret() -> None:
    """Print the secret that signs webhooks (WEBHOOK_SECRET, else the one generated in Redis)."""
    click.echo(_services().webhooks.secret())


COMMANDS = (dev, web, worker, keys, webhook_secret)
