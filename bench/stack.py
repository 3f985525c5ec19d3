"""The processes a benchmark run needs, all on 127.0.0.1: a Redis of its own, the platform's web and
worker commands from the Procfile, and the baselines (bare Flask under the same gunicorn config,
plain Dramatiq workers). Each is started and stopped by process group, never by name.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))
from support import ProcessGroup, platform_env, wait_until  # noqa: E402

from app.infra.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from app.services.messages import JOBS_QUEUE  # noqa: E402
from app.storage.keys import Keys  # noqa: E402

BASELINES = ROOT / "bench" / "baselines"
GUNICORN_CONF = ROOT / "app" / "infra" / "gunicorn_conf.py"
#: The platform's keys (default namespace), and the hashes holding the messages still to do, of the
#: platform's job queue and of the baseline's Dramatiq queue.
KEYS = Keys("fs")
PLATFORM_MESSAGES, RAW_MESSAGES = KEYS.queue(JOBS_QUEUE).messages, "bare-dramatiq:default.msgs"


def procfile() -> dict[str, str]:
    entries = (line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in entries}


class Stack:
    """Redis plus named processes; ``close`` stops them all."""

    def __init__(self) -> None:
        self.logs = tempfile.mkdtemp(prefix="fs-bench-")
        self.redis_server = EmbeddedRedis().start()
        self.redis = redis.Redis.from_url(self.redis_server.url)
        self.group = ProcessGroup()
        self.common = {
            "REDIS_URL": self.redis_server.url,
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "2",
            "WEB_ACCESS_LOG": "",
            "LOG_LEVEL": "WARNING",
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "8",
            "WEBHOOK_WORKER_PROCESSES": "1",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
            # The tests' algorithms (Sleeping: a job of a known length), from tests/helpers.
            "ALGORITHM_MODULES": "testing_algorithms",
        }

    def _env(self, **settings: str) -> dict[str, str]:
        return platform_env(**{**self.common, **settings})

    def start_web(self, name: str = "web", **settings: str) -> str:
        """The Procfile's ``web`` (``name="web"``) or bare Flask (``name="bare-web"``); returns its URL."""
        port = free_port()
        env = self._env(PORT=str(port), **settings)
        if name == "web":
            command: str | list[str] = procfile()["web"]
        else:
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "--config",
                str(GUNICORN_CONF),
                "--chdir",
                str(BASELINES),
                "bare_flask:app",
            ]
        self.group.start(name, command, env, self.logs)
        url = f"http://127.0.0.1:{port}"
        probe = "/readyz" if name == "web" else "/hello"
        wait_until(lambda: _answers(url + probe), timeout=60, interval=0.1, message=f"{name} (logs: {self.logs})")
        return url

    def start_worker(self, **settings: str) -> None:
        """The Procfile's ``worker``: job workers (WORKER_PROCESSES × WORKER_THREADS) and the webhook worker."""
        self.group.start("worker", procfile()["worker"], self._env(**settings), self.logs)

    def start_raw_dramatiq(self, processes: int, threads: int) -> None:
        command = [
            sys.executable,
            "-m",
            "dramatiq",
            "raw_dramatiq",
            "--path",
            str(BASELINES),
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        self.group.start("raw-dramatiq", command, self._env(), self.logs)

    def stop(self, *names: str) -> None:
        self.group.stop([n for n in names if n in self.group.processes])

    def flush(self) -> None:
        self.redis.flushall()  # our own redis-server: nobody else's data is there

    def processes(self, name: str) -> list[psutil.Process]:
        root = psutil.Process(self.group.processes[name].pid)
        return [root, *root.children(recursive=True)]

    def rss_mb(self, name: str) -> float:
        """Resident memory of the process and all its descendants (shared pages counted in each)."""
        total = 0
        for process in self.processes(name):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total / 2**20

    def cpu_seconds(self, name: str) -> float:
        total = 0.0
        for process in self.processes(name):
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def idle_cpu_percent(self, name: str, seconds: float) -> float:
        """Share of one core the process tree uses while nothing is sent to it."""
        before, started = self.cpu_seconds(name), time.monotonic()
        time.sleep(seconds)
        return 100 * (self.cpu_seconds(name) - before) / (time.monotonic() - started)

    def close(self) -> None:
        self.group.stop()
        self.redis.close()
        self.redis_server.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still booting its workers
        return False


def drain_rate(client: redis.Redis, messages: str, total: int, timeout: float) -> float:
    """Messages per second from the first acknowledgement to the last, watching a queue's message hash.

    Both brokers keep each message in a hash until it is acknowledged (after its actor returned),
    so the hash's size counts what is still to do, for the platform and the baseline alike;
    counting from the first acknowledgement leaves the workers' start-up out.
    """
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    while True:
        left = client.hlen(messages)
        now = time.perf_counter()
        if first is None and left < total:
            first = (now, left)
        if left == 0 and first is not None:
            return first[1] / (now - first[0]) if now > first[0] else float("nan")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{left} of {total} messages still in {messages} after {timeout} s")
        time.sleep(0.001)


def pss_mb(processes: list[psutil.Process]) -> float:
    """Proportional set size of these processes, from ``/proc/<pid>/smaps_rollup``: shared pages
    counted once across them, split between the processes that share them."""
    total_kb = 0
    for process in processes:
        try:
            with open(f"/proc/{process.pid}/smaps_rollup") as rollup:
                total_kb += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (FileNotFoundError, ProcessLookupError, PermissionError, StopIteration):
            continue
    return total_kb / 1024


def wait_jobs_done(client: redis.Redis, timeout: float) -> None:
    """Until no job is pending or running (the gauges' sets, which the job scripts keep)."""
    deadline = time.monotonic() + timeout
    while client.zcard(KEYS.pending_jobs) + client.zcard(KEYS.running_jobs):
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs still pending or running after {timeout} s")
        time.sleep(0.02)


def job_rate(client: redis.Redis, ids: list[str]) -> float:
    """Jobs per second from the jobs' own times: all of them, over the first one's ``started_at`` to
    the last one's ``completed_at`` (the workers' start-up is left out)."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(KEYS.job(job_id), "started_at", "completed_at")
    times = pipe.execute()
    if any(completed is None for _, completed in times):
        raise RuntimeError("a job has not completed")
    first = min(float(started) for started, _ in times)
    last = max(float(completed) for _, completed in times)
    return len(ids) / (last - first)


def commandstats(client: redis.Redis) -> dict[str, tuple[int, float]]:
    """Redis's count of calls and microseconds per command (commands run by scripts included)."""
    return {name.removeprefix("cmdstat_"): (v["calls"], v["usec"]) for name, v in client.info("commandstats").items()}


def commandstats_delta(
    before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]]
) -> dict[str, tuple[int, float]]:
    return {
        name: (calls - before.get(name, (0, 0))[0], usec - before.get(name, (0, 0))[1])
        for name, (calls, usec) in after.items()
        if calls != before.get(name, (0, 0))[0]
    }
