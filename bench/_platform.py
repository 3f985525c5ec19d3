"""What every benchmark needs: the platform's processes on a Redis of their own, on 127.0.0.1."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "helpers"))
from support import ProcessGroup, platform_env, wait_until

from app.infra.embedded_redis import EmbeddedRedis, free_port


@contextmanager
def running_platform(*commands: str, **settings: str) -> Iterator[tuple[str, EmbeddedRedis, ProcessGroup, dict, str]]:
    """Start a Redis and ``functionalscaffold <command>`` for each command; yield (url, redis, group, env, logs)."""
    logs = tempfile.mkdtemp(prefix="fs-bench-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with EmbeddedRedis() as server:
        defaults = {
            "REDIS_URL": server.url,
            "PORT": str(port),
            "HOST": "127.0.0.1",
            "WEB_ACCESS_LOG": "",
            "LOG_LEVEL": "WARNING",
        }
        env = platform_env(**{**defaults, **settings})
        group = ProcessGroup()
        try:
            for command in commands:
                group.start(command, ["functionalscaffold", command], env, logs)
            if "web" in commands:
                wait_until(lambda: _ready(url), timeout=30, interval=0.1, message=f"the web process (logs: {logs})")
            yield url, server, group, env, logs
        finally:
            group.stop()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False
