"""The commands that run the platform: ``dev`` (all of it), ``web``, ``worker``, and its keys."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.config import Config, ConfigError

if TYPE_CHECKING:
    from app.wiring import Services


def _python_module(*args: str) -> str:
    return shlex.join([sys.executable, "-m", *args])


@click.command()
def web() -> None:
    """Serve the HTTP API with gunicorn on $PORT (default 8000)."""
    _check_config()
    # By file path, not as app.gunicorn_conf: importing the package would load prometheus_client in
    # gunicorn's master before the config has set PROMETHEUS_MULTIPROC_DIR.
    conf = Path(__file__).parents[1] / "gunicorn_conf.py"
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--config", str(conf), "app:create_app()"])


@click.command()
def worker() -> None:
    """Run worker processes (jobs and webhooks), replacing any that dies."""
    _check_config()
    from workers.supervisor import main as supervise

    sys.exit(supervise())


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT or 8000).")
def dev(port: int | None) -> None:
    """Start everything: web, workers, and a private Redis when REDIS_URL is unset.

    Webhooks to private and loopback addresses are allowed here (a local receiver is the usual
    test target); production deployments leave WEBHOOK_ALLOW_PRIVATE_NETWORKS unset.
    """
    from honcho.manager import Manager

    from app.embedded_redis import EmbeddedRedis

    env = dict(os.environ)
    env["PORT"] = str(port or env.get("PORT") or 8000)
    # Loopback only: with private-network webhooks allowed, others on the network must not reach it.
    env.setdefault("HOST", "127.0.0.1")
    env.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
    embedded = None
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis().start()
        env["REDIS_URL"] = embedded.url
    _check_config(env)
    click.echo(f"Redis: {env['REDIS_URL']}" + (" (embedded, stops on exit)" if embedded else ""))
    if embedded:  # commands run from another shell (keys, webhook-secret) must find this Redis
        click.echo(f"  for `functionalscaffold keys` and `webhook-secret` elsewhere: export REDIS_URL={embedded.url}")
    click.echo(f"API: http://{env['HOST']}:{env['PORT']}  docs: http://{env['HOST']}:{env['PORT']}/docs")
    click.echo(
        f"WEBHOOK_ALLOW_PRIVATE_NETWORKS={env['WEBHOOK_ALLOW_PRIVATE_NETWORKS']} "
        "(webhooks may target this machine; do not use this setting in production)"
    )
    manager = Manager()
    manager.add_process("web", _python_module("app.cli", "web"), env=env)
    manager.add_process("worker", _python_module("app.cli", "worker"), env=env)
    try:
        manager.loop()
    finally:
        if embedded is not None:
            embedded.close()
    sys.exit(manager.returncode)


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (kept in Redis as digests only)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what the key is for.")
def create_key(name: str) -> None:
    """Create a key and print it: it is shown this once."""
    key, record = _services().auth.create_key(name)
    click.echo(f"{record['id']}  {record['name']}")
    click.echo(key)


@keys.command("list")
def list_keys() -> None:
    """List the keys (ids and names; the keys themselves are not kept)."""
    for record in _services().auth.list_keys():
        click.echo(f"{record['id']}  {record['created_at']}  {record['name']}")


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

    return build_services(_check_config())


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


def _check_config(environ: dict[str, str] | None = None) -> Config:
    try:
        return Config.from_env(environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = (dev, web, worker, keys, webhook_secret)
