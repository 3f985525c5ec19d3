"""The platform as users run it: the Procfile's commands as processes, on a Redis of our own."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from support import ProcessGroup, hostile_folder, platform_env, wait_until

from app.infra.embedded_redis import EmbeddedRedis, free_port

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def procfile_commands() -> dict[str, str]:
    entries = (line.split(":", 1) for line in PROCFILE.read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in entries}


@dataclass
class Platform:
    url: str
    redis: EmbeddedRedis
    processes: ProcessGroup

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return requests.post(self.url + path, timeout=10, **kwargs)


@contextmanager
def running_platform(logs: Path, **settings: str) -> Iterator[Platform]:
    """Web (2 gunicorn processes) and workers from the Procfile, with ``settings`` in their environment."""
    redis_server = EmbeddedRedis().start()
    try:
        with procfile_processes(logs, REDIS_URL=redis_server.url, **settings) as (url, group):
            yield Platform(url, redis_server, group)
    finally:
        redis_server.close()


@contextmanager
def procfile_processes(logs: Path, **settings: str) -> Iterator[tuple[str, ProcessGroup]]:
    """The Procfile's processes on whatever Redis ``settings`` name, once web answers ready: (url, group).

    Their logs are in ``logs``, printed if anything fails meanwhile.
    """
    port = free_port()
    env = platform_env(
        **{
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "WORKER_PROCESSES": "1",
            "WEBHOOK_WORKER_PROCESSES": "1",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            **settings,
        }
    )
    group = ProcessGroup()
    # Run from a user's project folder holding app.py, workers.py and algorithms.py of its own.
    folder = hostile_folder(Path(tempfile.mkdtemp(prefix="fs-project-")))
    for name, command in procfile_commands().items():
        group.start(name, command, env, str(logs), cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _ready(url), timeout=30, interval=0.1, message="the platform to be ready")
        yield url, group
    except BaseException:
        for log in sorted(logs.iterdir()):
            sys.stderr.write(f"--- {log.name}\n{log.read_text()[-5000:]}\n")
        raise
    finally:
        group.stop()


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=10).status_code == 200
    except requests.ConnectionError:
        return False
