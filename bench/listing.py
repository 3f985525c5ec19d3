"""Time of one GET /jobs page with 10^4, 10^5 and 10^6 jobs stored: it must not grow with the count.

Usage: python bench/listing.py [--sizes 10000,100000,1000000] [--requests 200]

Starts its own Redis and the web process on 127.0.0.1; stores the jobs directly with the job
store's own creation script (pipelined, no worker: ``populate.py``), then times pages over HTTP: the first page,
a page halfway down the list (through a cursor), and a filtered page. Prints medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis
import requests
from _platform import running_platform
from populate import store_jobs

from app.infra.config import Config
from app.services.jobs import JobRequest, encode_cursor  # the cursor format is opaque to clients, not to us
from app.wiring import build_services


def _store(url: str, client: redis.Redis, start: int, stop: int, now: float) -> None:
    """Jobs ``start``..``stop``, created a millisecond apart an hour ago; every tenth of algorithm "Other"."""
    services = build_services(Config(redis_url=url, job_ttl_seconds=86400), client)
    store_jobs(
        services,
        client,
        stop - start,
        JobRequest("PrimeChecker", {"number": 97}),
        vary=lambda i: {
            "created_at": now - 3600 + (start + i) / 1000,
            **({} if (start + i) % 10 else {"algorithm": "Other"}),
        },
    )


def _median_ms(session: requests.Session, url: str, requests_count: int) -> float:
    samples = []
    for _ in range(requests_count):
        started = time.perf_counter()
        response = session.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, response.text
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with running_platform("web", JOB_TTL_SECONDS="86400") as (url, server, _, _, logs):
        client = redis.Redis.from_url(server.url)
        session = requests.Session()
        now = time.time()
        stored = 0
        print(
            f"{'jobs stored':>12} {'first page':>11} {'deep page':>10} {'filtered':>9} {'Redis MB':>9}  (20 per page)"
        )
        for size in sizes:
            started = time.monotonic()
            _store(server.url, client, stored, size, now)
            stored = size
            fill = time.monotonic() - started
            middle = size // 2  # a cursor halfway down the list, as if someone had paged that far
            deep = encode_cursor(now - 3600 + middle / 1000, "f" * 12)
            first = _median_ms(session, f"{url}/jobs?limit=20", args.requests)
            deep_ms = _median_ms(session, f"{url}/jobs?limit=20&cursor={deep}", args.requests)
            filtered = _median_ms(session, f"{url}/jobs?limit=20&algorithm=Other", args.requests)
            memory = client.info("memory")["used_memory"] / 1e6
            print(
                f"{size:>12,} {first:>9.2f}ms {deep_ms:>8.2f}ms {filtered:>7.2f}ms {memory:>9.0f}  "
                f"(stored in {fill:.0f} s)",
                flush=True,
            )
        print(f"logs in {logs}")


if __name__ == "__main__":
    main()
