"""``functionalscaffold dev``: the whole platform on one machine, and where it can be found.

It starts a private Redis when ``REDIS_URL`` is unset, then the web server and the worker supervisor
(the Procfile's two processes), shows their output prefixed with their name, says "ready" once a
job can run, and stops them the way the workers expect: the first Ctrl-C or SIGTERM lets running
jobs finish (up to ``WORKER_SHUTDOWN_TIMEOUT_SECONDS``), a second Ctrl-C puts them back in the
queue at once. A runtime file records where the stack's Redis and API are while it runs, so that
``keys`` and ``webhook-secret`` from another shell find that Redis rather than some other one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from app.infra.processes import SignalInbox, python_command

if TYPE_CHECKING:
    from app.infra.config import Config

#: Longest "dev" waits for the stack to be able to run a job before it says what is missing.
READY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Stack:
    """A running dev stack, as its runtime file describes it."""

    pid: int
    redis_url: str
    api_url: str
    path: Path


def runtime_dir() -> Path:
    """Where running dev stacks leave their runtime files (``$XDG_RUNTIME_DIR`` when set)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"functionalscaffold-{os.getuid()}"


def running_stacks() -> list[Stack]:
    """The dev stacks running now (files of stacks that died are removed)."""
    found = []
    for path in sorted(runtime_dir().glob("dev-*.json")):
        try:
            data = json.loads(path.read_text())
            os.kill(int(data["pid"]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            continue
        except (OSError, ValueError, KeyError):
            continue
        found.append(Stack(int(data["pid"]), data["redis_url"], data["api_url"], path))
    return found


def _record(redis_url: str, api_url: str) -> Path:
    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"dev-{os.getpid()}.json"
    path.write_text(json.dumps({"pid": os.getpid(), "redis_url": redis_url, "api_url": api_url}))
    return path


class _Processes:
    """The stack's processes: started together, their output prefixed, stopped as asked."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._width = 0

    def start(self, commands: dict[str, list[str]]) -> None:
        """Start every command, each inheriting this process's environment (all before any output
        thread: a child is set up before threads exist)."""
        from app.infra.embedded_redis import die_with_parent

        for name, command in commands.items():
            self.processes[name] = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
        self._width = max(len(name) for name in self.processes)
        for name, process in self.processes.items():
            threading.Thread(target=self._relay, args=(name, process), daemon=True).start()

    def _relay(self, name: str, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            click.echo(f"{name:<{self._width}} | {line.decode(errors='replace').rstrip()}")

    def exited(self) -> str | None:
        """The name of a process that has exited, if any."""
        return next((name for name, p in self.processes.items() if p.poll() is not None), None)

    def signal(self, signum: int) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

    def wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop within {seconds:g} s; killing it", err=True)
                process.kill()
                process.wait()


def _can_run_jobs(api_url: str, redis_url: str, namespace: str) -> bool:
    """The API answers ready, and a job worker is registered: a job submitted now would run."""
    import httpx
    import redis

    from app.storage.keys import Keys
    from app.storage.workers import WorkerRegistry

    try:
        registry = WorkerRegistry(redis.Redis.from_url(redis_url, socket_timeout=2), Keys(namespace))
        if not any(worker["role"] == "jobs" for worker in registry.alive(ttl_ms=60_000)):
            return False
        return httpx.get(f"{api_url}/readyz", timeout=2).status_code == 200
    except Exception:  # not up yet, whatever the way it fails
        return False


def run_dev_stack(config: Config, api_url: str) -> int:
    """Start web and worker (with this process's environment, which ``config`` was read from) and
    supervise them until a signal; returns the exit code."""
    stop, interrupts = threading.Event(), [0]
    processes = _Processes()

    def on_signal(signum: int) -> None:
        if signum == signal.SIGINT:
            interrupts[0] += 1
            if interrupts[0] >= 2:
                click.echo("stopping now: running jobs go back to the queue", err=True)
                processes.signal(signal.SIGINT)
        stop.set()

    SignalInbox(on_signal)
    started = time.monotonic()
    processes.start({"web": python_command("app.infra.web_server"), "worker": python_command("workers.supervisor")})
    ready = False
    code = 0
    while not stop.wait(0.2):
        dead = processes.exited()
        if dead is not None:
            click.echo(f"{dead} exited with {processes.processes[dead].returncode}; stopping the stack", err=True)
            code = 1
            break
        if not ready and _can_run_jobs(api_url, config.redis_url, config.redis_namespace):
            ready = True
            click.echo(f"ready in {time.monotonic() - started:.1f} s: API {api_url}  docs {api_url}/docs")
        elif not ready and time.monotonic() - started > READY_TIMEOUT_SECONDS:
            click.echo(f"not ready after {READY_TIMEOUT_SECONDS:g} s: see the output above", err=True)
            started = time.monotonic()
    processes.signal(signal.SIGTERM)
    processes.wait(config.worker_shutdown_timeout_seconds + 20)
    return code


def start(port: int | None) -> int:
    """``dev``'s body: Redis, the runtime file, the processes, and clean-up whatever happens.

    The settings ``dev`` adds (its port and host, private-network webhooks, the embedded Redis's
    ``REDIS_URL``) go into this process's environment: its configuration is read from there, and
    its web and worker processes inherit it.
    """
    from app.cli.platform import check_config
    from app.infra.embedded_redis import EmbeddedRedis

    environ = os.environ
    environ["PORT"] = str(port or environ.get("PORT") or 8000)
    # Loopback only: with private-network webhooks allowed, others on the network must not reach it.
    environ.setdefault("HOST", "127.0.0.1")
    environ.setdefault("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true")
    embedded = None
    if not environ.get("REDIS_URL"):
        embedded = EmbeddedRedis().start()
        environ["REDIS_URL"] = embedded.url
    try:
        config = check_config()
        from app.cli.platform import check_port

        check_port(environ["HOST"], int(environ["PORT"]))
        api_url = f"http://{environ['HOST']}:{environ['PORT']}"
        from app.storage.redis import redacted

        click.echo(f"Redis: {redacted(environ['REDIS_URL'])}" + (" (embedded, stops on exit)" if embedded else ""))
        click.echo(
            f"WEBHOOK_ALLOW_PRIVATE_NETWORKS={environ['WEBHOOK_ALLOW_PRIVATE_NETWORKS']} "
            "(webhooks may target this machine; do not use this setting in production)"
        )
        click.echo("starting web and worker... (Ctrl-C stops; running jobs may finish first)")
        runtime = _record(environ["REDIS_URL"], api_url)
        try:
            return run_dev_stack(config, api_url)
        finally:
            runtime.unlink(missing_ok=True)
    finally:
        if embedded is not None:
            embedded.close()


@click.command()
@click.option("--port", type=int, default=None, help="HTTP port (default: $PORT or 8000).")
def dev(port: int | None) -> None:
    """Start everything: web, workers, and a private Redis when REDIS_URL is unset.

    Webhooks to private and loopback addresses are allowed here (a local receiver is the usual
    test target); production deployments leave WEBHOOK_ALLOW_PRIVATE_NETWORKS unset. While it
    runs, `keys` and `webhook-secret` from another shell use its Redis.
    """
    sys.exit(start(port))
