"""Worker throughput of two checkouts of the platform, measured the same way in the same run.

``bench/run.py``'s workers phase measures this checkout against plain Dramatiq; this script answers
the other question a queue change raises: is the worker slower than the code it replaced? It uses
nothing but each checkout's own commands (``functionalscaffold web`` and ``worker`` from its venv)
and the public API, which both sides share: jobs are submitted over HTTP while no worker runs, a
worker is started, and the rate is the jobs' count over the span from the first ``started_at`` to
the last ``completed_at`` (the worker's start-up left out). Each run gets a fresh redis-server of its
own; the two checkouts alternate, ``--repeat`` times, so that a machine getting busier hurts both.

    python bench/worker_ab.py --before /path/to/old/checkout [--after .] [--jobs 5000] [--repeat 3]

Each checkout needs its venv at ``<checkout>/.venv`` (``python -m venv .venv && .venv/bin/pip
install -e <checkout>``, for an old one that shipped its client inside).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))
from support import ProcessGroup, wait_until  # noqa: E402

from app.infra.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

THREADS = 8
#: Both sides at each: as many as the threads (the default before 2026-11-30), and twice (Dramatiq's
#: default, and the platform's since).
PREFETCHES = (THREADS, 2 * THREADS)
POLL_SECONDS = 0.2  # a bench's pace for "are they all done yet": cheap beside the worker's work


def _environment(redis_url: str, port: int, prefetch: int) -> dict[str, str]:
    # The caller's own settings of the platform are left out, except how many algorithm processes.
    kept = ("WORKER_ALGORITHM_PROCESSES",)
    env = {k: v for k, v in os.environ.items() if k in kept or not k.startswith(("REDIS_", "WORKER_", "WEBHOOK_"))}
    env.update(
        REDIS_URL=redis_url,
        PORT=str(port),
        HOST="127.0.0.1",
        WEB_CONCURRENCY="2",
        WEB_ACCESS_LOG="",
        LOG_LEVEL="WARNING",
        WORKER_PROCESSES="1",
        WORKER_THREADS=str(THREADS),
        WORKER_PREFETCH=str(prefetch),
        WEBHOOK_WORKER_PROCESSES="1",
    )
    return env


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _submit(session: requests.Session, url: str, count: int) -> list[str]:
    def one(n: int) -> str:
        answer = session.post(f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 1000 + n}})
        if answer.status_code != 202:
            raise RuntimeError(f"submission answered {answer.status_code}: {answer.text}")
        return answer.json()["job_id"]

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(one, range(count)))


def _completed(session: requests.Session, url: str) -> float:
    """The jobs ended so far, by the API's own counter (cheap to ask: the jobs' records are not read)."""
    total = 0.0
    for line in session.get(f"{url}/metrics").text.splitlines():
        if line.startswith("jobs_completed_total{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _wait_all_done(session: requests.Session, url: str, ids: list[str], timeout: float) -> list[dict]:
    """Waits until the API counts every job ended (asking a few times a second: reading the jobs
    meanwhile would load the machine the worker runs on), then reads every job."""
    deadline = time.monotonic() + timeout
    while _completed(session, url) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"jobs not done after {timeout:.0f} s")
        time.sleep(POLL_SECONDS)
    return [session.get(f"{url}/jobs/{job_id}").json() for job_id in ids]


def _rate(jobs: list[dict]) -> float:
    if any(job["status"] != "completed" for job in jobs):
        raise RuntimeError("a job did not complete")
    first = min(datetime.fromisoformat(job["started_at"]) for job in jobs)
    last = max(datetime.fromisoformat(job["completed_at"]) for job in jobs)
    return len(jobs) / (last - first).total_seconds()


def measure(checkout: Path, count: int, prefetch: int) -> float:
    """Jobs per second of ``checkout``'s worker (1 process × 8 threads) over ``count`` small jobs."""
    command = str(checkout / ".venv" / "bin" / "functionalscaffold")
    logs = tempfile.mkdtemp(prefix="fs-worker-ab-")
    group = ProcessGroup()
    with EmbeddedRedis() as server, requests.Session() as session:
        port = free_port()
        env = _environment(server.url, port, prefetch)
        url = f"http://127.0.0.1:{port}"
        try:
            group.start("web", [command, "web"], env, logs, cwd=logs)
            wait_until(lambda: _answers(url + "/readyz"), timeout=60, interval=0.1, message=f"web ({logs})")
            ids = _submit(session, url, count)
            group.start("worker", [command, "worker"], env, logs, cwd=logs)
            jobs = _wait_all_done(session, url, ids, timeout=300)
        finally:
            group.stop()
    return _rate(jobs)


def _summary(samples: list[float]) -> str:
    return f"{statistics.median(samples):,.0f} ({min(samples):,.0f}–{max(samples):,.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="the checkout measured (default: this one)")
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    arguments = parser.parse_args()
    sides = {"before": arguments.before.resolve(), "after": arguments.after.resolve()}
    samples: dict[tuple[str, int], list[float]] = {}
    for _ in range(arguments.repeat):
        for prefetch in PREFETCHES:
            for side, checkout in sides.items():
                rate = measure(checkout, arguments.jobs, prefetch)
                samples.setdefault((side, prefetch), []).append(rate)
                print(f"{side} WORKER_PREFETCH={prefetch}: {rate:,.0f} jobs/s", flush=True)
    print(f"\nworker throughput, {arguments.jobs} small PrimeChecker jobs, 1 process × {THREADS} threads (jobs/s)")
    for prefetch in PREFETCHES:
        before, after = samples[("before", prefetch)], samples[("after", prefetch)]
        ratio = statistics.median(after) / statistics.median(before)
        print(
            f"WORKER_PREFETCH={prefetch}: before {_summary(before)} ({sides['before']}), "
            f"after {_summary(after)} ({sides['after']}): {ratio:.2f}×"
        )


if __name__ == "__main__":
    main()
