"""Jobs per second of the platform's workers against plain Dramatiq draining trivial messages.

The platform's rate comes from the jobs' own times (first ``started_at`` to last ``completed_at``);
plain Dramatiq's from its queue's message hash (first acknowledgement to the last): both leave the
workers' start-up out. The jobs are stored before the workers start, by the API's own creation
script (``populate.py``)."""

from __future__ import annotations

import os
import sys

from populate import store_jobs
from report import Row, ratio_at_least
from stack import BASELINES, RAW_MESSAGES, Stack, drain_rate, job_rate, wait_jobs_done

from app.infra.config import Config
from app.services.jobs import JobRequest
from app.wiring import build_services
from phases import Settings

PROCESSES, THREADS = 1, 8


SMALL = JobRequest("PrimeChecker", {"number": 1009})


def _raw_dramatiq(redis_url: str):
    os.environ["REDIS_URL"] = redis_url
    sys.path.insert(0, str(BASELINES))
    import raw_dramatiq

    return raw_dramatiq


def run(stack: Stack, settings: Settings) -> list[Row]:
    count = settings.pick(5000, 200)
    row = Row(
        f"worker throughput, small PrimeChecker jobs, {PROCESSES} process × {THREADS} threads, {count} jobs",
        "jobs/s",
        "plain Dramatiq, trivial actor",
        target="≥ 0.7×",
        check=ratio_at_least(0.7),
    )
    held_to_threads = Row(
        f"worker throughput, same, WORKER_PREFETCH={THREADS} (as many as the threads)",
        "jobs/s",
        "plain Dramatiq, trivial actor",
    )
    stack.flush()
    services = build_services(Config(redis_url=stack.redis_server.url), stack.redis)
    raw = _raw_dramatiq(stack.redis_server.url)
    try:
        for _ in range(settings.repeat):
            for target, prefetch in ((row, "0"), (held_to_threads, str(THREADS))):
                ids = store_jobs(services, stack.redis, count, SMALL)
                stack.start_worker(
                    WORKER_PROCESSES=str(PROCESSES), WORKER_THREADS=str(THREADS), WORKER_PREFETCH=prefetch
                )
                wait_jobs_done(stack.redis, timeout=300)
                stack.stop("worker")
                target.platform.samples.append(job_rate(stack.redis, ids))

            for n in range(count):
                raw.trivial.send(n)
            stack.start_raw_dramatiq(PROCESSES, THREADS)
            row.baseline.samples.append(drain_rate(stack.redis, RAW_MESSAGES, count, timeout=300))
            held_to_threads.baseline.samples.append(row.baseline.samples[-1])
            stack.stop("raw-dramatiq")
        return [row, held_to_threads]
    finally:
        stack.stop("worker", "raw-dramatiq")
        services.metrics.close()
