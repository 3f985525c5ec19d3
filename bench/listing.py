"""Time of one GET /jobs page with 10^4, 10^5 and 10^6 jobs stored: it must not grow with the count.

Usage: python bench/listing.py [--sizes 10000,100000,1000000] [--requests 200]

Starts its own Redis and the web process on 127.0.0.1; stores the jobs directly with the job
store's own creation script (pipelined, no worker), then times pages over HTTP: the first page,
a page halfway down the list (through a cursor), and a filtered page. Prints medians; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

import redis
import requests
from _platform import running_platform

from app.domain.models import Job, JobStatus
from app.services.jobs import _encode_cursor  # the cursor format is opaque to clients, not to us
from app.storage.jobs import JobStore
from app.storage.keys import Keys

BATCH = 2000


def _store(client: redis.Redis, start: int, stop: int, now: float) -> None:
    store = JobStore(client, Keys("fs"))
    for first in range(start, stop, BATCH):
        pipe = client.pipeline(transaction=False)
        for i in range(first, min(first + BATCH, stop)):
            job = Job(
                job_id=f"{i:012x}",
                status=JobStatus.PENDING,
                algorithm="PrimeChecker" if i % 10 else "Other",
                params={"number": i + 2},
                created_at=now - 3600 + i / 1000,
                expires_at=now + 86400,
            )
            store._create(  # the script JobStore.create runs, pipelined for speed
                keys=[f"fs:job:{job.job_id}"],
                args=[86400, "fs:jobs:", job.job_id, "", "", "fs:job:", *_fields(job)],
                client=pipe,
            )
        pipe.execute()


def _fields(job: Job) -> list[str]:
    from app.storage.jobs import _encode

    return _encode(job)


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
            _store(client, stored, size, now)
            stored = size
            fill = time.monotonic() - started
            middle = size // 2  # a cursor halfway down the list, as if someone had paged that far
            deep = _encode_cursor(now - 3600 + middle / 1000, f"{middle:012x}")
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
