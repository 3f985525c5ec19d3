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


def _bytes_per_job(stack: Stack, ids: list[str]) -> tuple[dict[str, tuple[float, str]], float]:
    """MEMORY USAGE (and encoding) of each of a finished job's own keys (state, input, output), and
    its share of the listing indexes."""
    sample = random.Random(1).sample(ids, min(SAMPLE, len(ids)))
    own = {}
    for kind, key_of in (("state hash", KEYS.job), ("input", KEYS.job_input), ("output", KEYS.job_output)):
        keys = [key_of(job_id) for job_id in sample]
        usage = sum(stack.redis.memory_usage(key, samples=0) or 0 for key in keys) / len(sample)
        own[kind] = (usage, stack.redis.object("encoding", keys[0]).decode())
    indexes = list(stack.redis.scan_iter(KEYS.job_index_prefix + "*", count=1000))
    return own, sum(stack.redis.memory_usage(key, samples=0) or 0 for key in indexes) / len(ids)


def _bare_growth(stack: Stack, count: int) -> float:
    """used_memory growth per record of bare Flask's POST /jobs (a 4-field HSET and an LPUSH)."""
    before = stack.redis.info("memory")["used_memory"]
    pipe = stack.redis.pipeline(transaction=False)
    for n in range(count):
        job_id = f"{n:012x}"
        fields = {
            "status": "pending",
            "algorithm": "PrimeChecker",
            "params": '{"number": 17}',
            "created_at": time.time(),
        }
        pipe.hset(f"bare:job:{job_id}", mapping=fields)
        pipe.lpush("bare:queue", job_id)
    pipe.execute()
    return (stack.redis.info("memory")["used_memory"] - before) / count


def run(stack: Stack, settings: Settings) -> list[Row]:
    batch = settings.pick(10_000, 300)
    per_job = Row("Redis memory per finished job: MEMORY USAGE of its 3 keys", "bytes")
    index_share = Row("Redis memory per finished job: its share of the 4 listing indexes", "bytes")
    growth = Row(
        f"Redis used_memory growth per finished job, {batch:,} → {2 * batch:,} jobs (indexes included)",
        "bytes",
        "bare Flask's record: HSET + LPUSH",
        target="≤ 800",
        check=at_most(800),
    )
    settings_used = {
        name: value
        for name, value in stack.redis.config_get("hash-max-*").items()
        if "entries" in name or "value" in name
    }
    kinds = {}
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
        for kind, (usage, encoding) in own.items():
            note = f"{encoding}" + (
                f"; {', '.join(f'{k} {v}' for k, v in sorted(settings_used.items()))}" if kind == "state hash" else ""
            )
            kinds[kind] = Row(f"Redis memory per finished job: its {kind} ({note})", "bytes")
            kinds[kind].platform.samples.append(usage)
        per_job.platform.samples.append(sum(usage for usage, _ in own.values()))
        index_share.platform.samples.append(shared)
        before = stack.redis.info("memory")["used_memory"]
        first = {name: stack.rss_mb(name) for name in ("web", "worker")}
        _submit(url, batch)
        _finished(stack)
        growth.platform.samples.append((stack.redis.info("memory")["used_memory"] - before) / batch)
        growth.baseline.samples.append(_bare_growth(stack, batch))
        rest = Row("Redis memory per finished job: the rest (key tables, TTLs, queue, activity, allocator)", "bytes")
        rest.platform.samples.append(growth.platform.samples[-1] - per_job.platform.samples[-1] - shared)
        for name in ("web", "worker"):
            second = stack.rss_mb(name)
            rss[name, 1].platform.samples.append(first[name])
            rss[name, 2].platform.samples.append(second)
            rss_growth[name].platform.samples.append(100 * (second - first[name]) / first[name])
        return [growth, per_job, *kinds.values(), index_share, rest, *rss.values(), *rss_growth.values()]
    finally:
        stack.stop("web", "worker")
