"""Redis memory per finished job, and the resident memory of web and workers after 10,000 and 20,000 jobs."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from report import Row, at_most
from stack import KEYS, PLATFORM_MESSAGES, Stack

from phases import Settings

SAMPLE = 200


def _submit(url: str, count: int) -> list[str]:
    with requests.Session() as session, ThreadPoolExecutor(16) as pool:
        return list(
            pool.map(
                lambda n: session.post(
                    f"{url}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 10_000 + n}}, timeout=10
                ).json()["job_id"],
                range(count),
            )
        )


def _finished(stack: Stack, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while stack.redis.hlen(PLATFORM_MESSAGES):
        if time.monotonic() > deadline:
            raise TimeoutError("jobs still running")
        time.sleep(0.05)


def _bytes_per_job(stack: Stack, ids: list[str]) -> tuple[float, float]:
    """MEMORY USAGE of a finished job's own keys (state, input, output), and its share of the indexes."""
    sample = random.Random(1).sample(ids, min(SAMPLE, len(ids)))
    keys = [key for job_id in sample for key in (KEYS.job(job_id), KEYS.job_input(job_id), KEYS.job_output(job_id))]
    own = sum(stack.redis.memory_usage(key, samples=0) or 0 for key in keys) / len(sample)
    indexes = list(stack.redis.scan_iter(KEYS.job_index_prefix + "*", count=1000))
    return own, sum(stack.redis.memory_usage(key, samples=0) or 0 for key in indexes) / len(ids)


def run(stack: Stack, settings: Settings) -> list[Row]:
    batch = settings.pick(10_000, 300)
    per_job = Row(
        "Redis memory per finished job: MEMORY USAGE of its keys", "bytes", target="≤ 1,024", check=at_most(1024)
    )
    index_share = Row("Redis memory per finished job: its share of the listing indexes", "bytes")
    growth = Row(f"Redis used_memory growth per job, {batch:,} → {2 * batch:,} jobs", "bytes")
    rss = {
        (name, n): Row(f"RSS of the {label} after {n * batch:,} jobs", "MB")
        for name, label in (("web", "web processes"), ("worker", "worker processes"))
        for n in (1, 2)
    }
    rss_growth = {
        name: Row(
            f"RSS growth of the {label}, {batch:,} → {2 * batch:,} jobs", "%", target="≤ 2 % (noise)", check=at_most(2)
        )
        for name, label in (("web", "web processes"), ("worker", "worker processes"))
    }
    stack.flush()
    url = stack.start_web("web")
    stack.start_worker(WORKER_PROCESSES="1", WORKER_THREADS="8")
    try:
        ids = _submit(url, batch)
        _finished(stack)
        own, shared = _bytes_per_job(stack, ids)
        per_job.platform.samples.append(own)
        index_share.platform.samples.append(shared)
        before = stack.redis.info("memory")["used_memory"]
        first = {name: stack.rss_mb(name) for name in ("web", "worker")}
        _submit(url, batch)
        _finished(stack)
        growth.platform.samples.append((stack.redis.info("memory")["used_memory"] - before) / batch)
        for name in ("web", "worker"):
            second = stack.rss_mb(name)
            rss[name, 1].platform.samples.append(first[name])
            rss[name, 2].platform.samples.append(second)
            rss_growth[name].platform.samples.append(100 * (second - first[name]) / first[name])
        return [per_job, index_share, growth, *rss.values(), *rss_growth.values()]
    finally:
        stack.stop("web", "worker")
