"""Helpers shared by the tests: polling with a deadline, a real webhook receiver, process groups."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pytest

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message} (last: {value!r})")
        time.sleep(interval)


@dataclass
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict[str, str]
    body: bytes
    answered_at: float | None = None  # time.monotonic() when the answer was sent in full

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording every POST.

    Answers ``statuses`` in turn (the last repeats), with ``headers``. ``hang_seconds`` makes it say
    nothing that long first; ``drip_seconds`` makes it send its answer a byte at a time. With
    ``log_path``, each POST is also appended there as a JSON line (``at``: Unix time, path, headers,
    body), for a receiver running as a process of its own (on a test host).
    """

    statuses: list[int] = field(default_factory=lambda: [200])
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    drip_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 0
    log_path: str | None = None

    def start(self) -> WebhookReceiver:
        receiver = self
        self._lock = threading.Lock()
        self._released = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                record = Received(time.monotonic(), self.path, dict(self.headers), body)
                with receiver._lock:
                    receiver.received.append(record)
                    status = receiver.statuses[min(len(receiver.received), len(receiver.statuses)) - 1]
                    if receiver.log_path:
                        line = {"at": time.time(), "path": self.path, "headers": record.headers}
                        with open(receiver.log_path, "a") as log:
                            log.write(json.dumps({**line, "body": body.decode(errors="replace")}) + "\n")
                if receiver.hang_seconds and receiver._released.wait(receiver.hang_seconds):
                    return
                head = f"HTTP/1.1 {status} Answer\r\nContent-Length: 0\r\nConnection: close\r\n"
                answer = (head + "".join(f"{k}: {v}\r\n" for k, v in receiver.headers.items()) + "\r\n").encode()
                try:
                    if receiver.drip_seconds:
                        for byte in answer:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            if receiver._released.wait(receiver.drip_seconds):
                                return
                    else:
                        self.wfile.write(answer)
                except OSError:
                    return  # the sender gave up, as it should
                record.answered_at = time.monotonic()
                self.close_connection = True

            def log_message(self, *_: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128  # the default of 5 drops connections when 50 deliveries arrive at once

        self._server = Server((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self._server.server_address[1]}{path}"

    def for_path(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()


class ProcessGroup:
    """Processes started in their own session, stopped by process group (never by name)."""

    def __init__(self) -> None:
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(
        self, name: str, command: str | list[str], env: dict[str, str], log_dir: str, cwd: str | None = None
    ) -> subprocess.Popen:
        with open(os.path.join(log_dir, f"{name}.log"), "wb") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                command,
                shell=isinstance(command, str),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=cwd,
            )
        self.processes[name] = process
        return process

    def stop(self, names: Iterable[str] | None = None, timeout: float = 15.0) -> None:
        chosen = list(self.processes) if names is None else list(names)
        for name in chosen:
            _signal_group(self.processes[name], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in chosen:
            process = self.processes.pop(name)
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # anything of the group still around


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def hostile_folder(path: Path) -> str:
    """A user's project folder, with modules named like the platform's packages that fail if imported.

    Commands run from it must import the platform's own packages, never these.
    """
    path.mkdir(parents=True, exist_ok=True)
    for name in ("app", "workers", "algorithms"):
        (path / f"{name}.py").write_text(f"raise SystemExit('the user\\'s own {name}.py was imported')\n")
    return str(path)


def platform_env(**settings: str) -> dict[str, str]:
    """The test process's environment minus platform settings, with this venv's commands first on PATH."""
    prefixes = ("REDIS_", "WEBHOOK_", "WORKER_", "WEB_", "JOB_", "PROMETHEUS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes) and k != "PORT"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    # The test algorithms (ALGORITHM_MODULES=testing_algorithms) live beside this file.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.dirname(__file__), env.get("PYTHONPATH")]))
    env.update(settings)
    return env


def environment(monkeypatch: pytest.MonkeyPatch, settings: dict[str, str]) -> None:
    """Make the process environment hold ``settings`` and no other variable ``Config`` reads, until
    the test ends (``Config.from_env()`` reads ``os.environ``)."""
    from app.infra.config import Config

    for setting in fields(Config):
        monkeypatch.delenv(setting.name.upper(), raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def finished_job(get_json: Callable[[str], dict], job_id: str, timeout: float = 15.0) -> dict:
    """Poll ``GET /jobs/{job_id}`` (through ``get_json(path)``) until the job has finished."""

    def finished() -> dict | None:
        job = get_json(f"/jobs/{job_id}")
        return job if job.get("status") in ("completed", "failed", "cancelled") else None

    return wait_until(finished, timeout=timeout, interval=0.05, message=f"job {job_id} to finish")


def metric_value(exposition: str, sample: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == sample and s.labels == labels:
                return s.value
    return 0.0


#: Name of the user property under which a test's report carries the figures it measured.
FIGURES_PROPERTY = "figures"
