"""How fast ``functionalscaffold worker`` starts, how fast a killed worker is replaced, and what the
worker group costs in memory at rest.

    .venv/bin/python bench/cold_start.py [--repeat 3]

Starts its own Redis on 127.0.0.1 and the Procfile's ``worker`` with default settings (as many job
worker processes as cores), and prints:

- cold start: from starting the command to the first completed job, for a quick job (run in the
  worker's thread) and for one run in an algorithm process, both queued before the start;
- replacement: from SIGKILL of a job worker process to its replacement's first completed job (with
  one job worker process, so that only the replacement can take it);
- PSS of the worker group (the supervisor and all its descendants, ``/proc/<pid>/smaps_rollup``):
  at rest after the start, and at rest after a burst that used every algorithm process.

Every process is started and stopped by process group, never by name.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))
from support import ProcessGroup, platform_env, wait_until  # noqa: E402

from app.domain.models import JobStatus  # noqa: E402
from app.infra.config import Config  # noqa: E402
from app.infra.embedded_redis import EmbeddedRedis  # noqa: E402
from app.storage.keys import Keys  # noqa: E402
from app.storage.workers import WorkerRegistry  # noqa: E402
from app.wiring import build_services  # noqa: E402

#: A job decided in the worker's thread (below 2^64), and one sent to an algorithm process.
QUICK, IN_CHILD = {"number": 97}, {"number": 2**89 - 1}
#: Seconds the group is left alone before its memory is read.
REST_SECONDS = 3.0


def _pss_mb(root: psutil.Process) -> float:
    total_kb = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            with open(f"/proc/{process.pid}/smaps_rollup") as rollup:
                total_kb += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return total_kb / 1024


def _job_workers(root: psutil.Process) -> list[psutil.Process]:
    found = []
    for child in root.children():
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--role" in command and command[command.index("--role") + 1] == "jobs":
            found.append(child)
    return found


class Bench:
    def __init__(self, redis_url: str, logs: str) -> None:
        self.config = Config(redis_url=redis_url)
        self.config.validate()
        self.services = build_services(self.config)
        self.registry = WorkerRegistry(redis.Redis.from_url(redis_url), Keys("fs"))
        self.env = platform_env(REDIS_URL=redis_url, LOG_LEVEL="INFO")
        self.logs = logs
        self.group = ProcessGroup()
        self.starts = 0

    def submit(self, params: dict) -> str:
        job, _ = self.services.jobs.create_job("PrimeChecker", params, "_")
        return job.job_id

    def completed_at(self, job_id: str, timeout: float = 60) -> float:
        def done() -> float | None:
            job = self.services.jobs.get_job(job_id, "_")
            assert job.status in (JobStatus.PENDING, JobStatus.RUNNING, JobStatus.COMPLETED), job
            return job.completed_at if job.status is JobStatus.COMPLETED else None

        return wait_until(done, timeout=timeout, interval=0.002, message=f"job {job_id}")

    def start(self, **settings: str) -> tuple[psutil.Process, float]:
        self.starts += 1
        started = time.time()
        env = {**self.env, **settings}
        process = self.group.start(f"worker-{self.starts}", ["functionalscaffold", "worker"], env, self.logs)
        return psutil.Process(process.pid), started

    def stop(self) -> None:
        self.group.stop()

    def close(self) -> None:
        self.services.metrics.close()
        self.services.waiter.close()


def cold_start(bench: Bench) -> tuple[float, float, float, float]:
    """Seconds to the first quick and first child job; PSS at rest, and after every slot was used."""
    quick, in_child = bench.submit(QUICK), bench.submit(IN_CHILD)
    root, started = bench.start()
    try:
        quick_s = bench.completed_at(quick) - started
        child_s = bench.completed_at(in_child) - started
        time.sleep(REST_SECONDS)  # at rest: nothing to wait for, the measure is of idleness
        rest_mb = _pss_mb(root)
        burst = [bench.submit({**IN_CHILD, "number": IN_CHILD["number"] + 2 * n}) for n in range(32)]
        for job_id in burst:
            bench.completed_at(job_id)
        time.sleep(REST_SECONDS)
        used_mb = _pss_mb(root)
    finally:
        bench.stop()
    return quick_s, child_s, rest_mb, used_mb


def replacement(bench: Bench) -> float:
    """Seconds from SIGKILL of the job worker to the first job completed by its replacement.

    With one job worker process (otherwise defaults), so that only the replacement can take the job,
    which is queued at the kill.
    """
    root, _ = bench.start(WORKER_PROCESSES="1")
    try:
        [worker] = wait_until(lambda: _job_workers(root), timeout=30, message="the job worker")
        wait_until(lambda: len(bench.registry.alive(15_000)) == 2, timeout=30, message="both workers ready")
        killed = time.time()
        worker.send_signal(signal.SIGKILL)
        return bench.completed_at(bench.submit(QUICK)) - killed
    finally:
        bench.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logs = tempfile.mkdtemp(prefix="fs-cold-start-")
    rows: dict[str, list[float]] = {}
    with EmbeddedRedis() as server:
        bench = Bench(server.url, logs)
        try:
            for _ in range(args.repeat):
                for name, value in zip(
                    (
                        "start → first quick job completed (s)",
                        "start → first job in an algorithm process completed (s)",
                        "PSS of the worker group at rest after start (MB)",
                        "PSS of the worker group at rest after a burst of 32 child jobs (MB)",
                    ),
                    cold_start(bench),
                    strict=True,
                ):
                    rows.setdefault(name, []).append(value)
                rows.setdefault(
                    "SIGKILL of the job worker (WORKER_PROCESSES=1) → its replacement's first job (s)", []
                ).append(replacement(bench))
        finally:
            bench.close()
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores (load average now {load}), Python {sys.version.split()[0]}; logs: {logs}")
    for name, values in rows.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        print(f"{name:72} median {statistics.median(values):8.2f}   ({shown})")


if __name__ == "__main__":
    main()
