"""Jobs per second of the platform's workers against plain Dramatiq draining trivial messages."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import requests
from report import Row, ratio_at_least
from stack import BASELINES, PLATFORM_MESSAGES, RAW_MESSAGES, Stack, drain_rate

from phases import Settings

PROCESSES, THREADS = 1, 8


def _submit(url: str, count: int) -> None:
    """``count`` PrimeChecker jobs of small numbers, through the API, while no worker runs."""
    with requests.Session() as session, ThreadPoolExecutor(16) as pool:
        answers = pool.map(
            lambda n: (
                session.post(
                    f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 1000 + n}}, timeout=10
                ).status_code
            ),
            range(count),
        )
        if set(answers) != {202}:
            raise RuntimeError("a submission failed")


def _raw_dramatiq(redis_url: str):
    os.environ["REDIS_URL"] = redis_url
    sys.path.insert(0, str(BASELINES))
    import raw_dramatiq

    return raw_dramatiq


def run(stack: Stack, settings: Settings) -> list[Row]:
    count = settings.pick(5000, 200)
    row = Row(
        f"worker throughput, {PROCESSES} process × {THREADS} threads, {count} jobs",
        "jobs/s",
        "plain Dramatiq, trivial actor",
        target="≥ 0.7×",
        check=ratio_at_least(0.7),
    )
    prefetched = Row(
        f"worker throughput, same, WORKER_PREFETCH={2 * THREADS} (Dramatiq's default prefetch)",
        "jobs/s",
        "plain Dramatiq, trivial actor",
    )
    stack.flush()
    url = stack.start_web("web")
    raw = _raw_dramatiq(stack.redis_server.url)
    try:
        for _ in range(settings.repeat):
            for target, prefetch in ((row, "0"), (prefetched, str(2 * THREADS))):
                _submit(url, count)
                stack.start_worker(
                    WORKER_PROCESSES=str(PROCESSES), WORKER_THREADS=str(THREADS), WORKER_PREFETCH=prefetch
                )
                target.platform.samples.append(drain_rate(stack.redis, PLATFORM_MESSAGES, count, timeout=300))
                stack.stop("worker")

            for n in range(count):
                raw.trivial.send(n)
            stack.start_raw_dramatiq(PROCESSES, THREADS)
            row.baseline.samples.append(drain_rate(stack.redis, RAW_MESSAGES, count, timeout=300))
            prefetched.baseline.samples.append(row.baseline.samples[-1])
            stack.stop("raw-dramatiq")
        return [row, prefetched]
    finally:
        stack.stop("web", "worker", "raw-dramatiq")
