"""Submit → completed latency as a user sees it, at a fixed rate (open loop). Prints one JSON object.

Usage:
  python bench/latency_client.py platform URL --rate 1 --seconds 30
  python bench/latency_client.py dramatiq REDIS_URL --rate 1 --seconds 30

``platform``: ``POST /jobs`` with ``Prefer: wait=30``, the platform's long poll: the answer comes
when the job has finished. ``dramatiq``: plain Dramatiq has no job status, so the message's actor
sets a Redis key and the client polls it every 10 ms, as a user of bare Dramatiq would.
Jobs start on schedule whether or not earlier ones have finished. Run as its own process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

POLL_SECONDS = 0.01
JOB = json.dumps({"algorithm": "PrimeChecker", "params": {"number": 1_000_003}})


def platform_job(url: str) -> Callable[[], None]:
    parts = urllib.parse.urlsplit(url)
    if parts.hostname != "127.0.0.1":
        raise SystemExit("latency targets 127.0.0.1 only")

    def submit_and_wait() -> None:
        # A connection per job: at 1 job/s, kept-alive connections would sit idle past the server's
        # keep-alive time. Opening one on loopback costs about 0.1 ms.
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            headers = {"Content-Type": "application/json", "Prefer": "wait=30"}
            connection.request("POST", "/jobs", JOB, headers)
            answer = connection.getresponse()
            body = json.loads(answer.read())
        finally:
            connection.close()
        if answer.status != 200 or body["status"] != "completed":
            raise RuntimeError(f"{answer.status} {body.get('status')}")

    return submit_and_wait


def dramatiq_job(redis_url: str) -> Callable[[], None]:
    import os

    os.environ["REDIS_URL"] = redis_url
    sys.path.insert(0, str(Path(__file__).with_name("baselines")))
    import raw_dramatiq

    client = raw_dramatiq.broker.client

    def send_and_poll() -> None:
        token = uuid.uuid4().hex
        raw_dramatiq.mark_done.send(token)
        deadline = time.monotonic() + 30
        while not client.exists(f"bare:done:{token}"):
            if time.monotonic() > deadline:
                raise RuntimeError("not done in 30 s")
            time.sleep(POLL_SECONDS)

    return send_and_poll


def measure(job: Callable[[], None], rate: float, seconds: float, warmup: int) -> dict:
    total = int(rate * seconds) + warmup
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def one(index: int) -> None:
        due = start + index / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        began = time.perf_counter()
        try:
            job()
        except Exception as exc:
            with lock:
                errors.append(repr(exc))
            return
        if index >= warmup:
            with lock:
                latencies.append((time.perf_counter() - began) * 1000)

    with ThreadPoolExecutor(max_workers=min(256, int(rate * 2) + 8)) as pool:
        list(pool.map(one, range(total)))
    ordered = sorted(latencies)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else None  # noqa: E731
    return {
        "jobs": len(ordered),
        "p50_ms": pick(0.5),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "latencies_ms": ordered,
        "errors": errors[:5],
        "error_count": len(errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("system", choices=["platform", "dramatiq"])
    parser.add_argument("target", help="the platform's URL, or the Redis URL of plain Dramatiq")
    parser.add_argument("--rate", type=float, default=1.0, help="jobs per second")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=int, default=2, help="first jobs run but not counted")
    args = parser.parse_args()
    job = platform_job(args.target) if args.system == "platform" else dramatiq_job(args.target)
    print(json.dumps(measure(job, args.rate, args.seconds, args.warmup)))


if __name__ == "__main__":
    main()
