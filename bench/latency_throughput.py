"""Figures of the platform as deployed: /invoke latency, Redis commands per call, jobs/s of one worker.

Usage: python bench/latency_throughput.py [--requests 300] [--jobs 2000]

Starts its own Redis, the Procfile's web (2 gunicorn workers) and, later, one worker process with
8 threads, all on 127.0.0.1; stops them all at the end. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import redis
import requests
from _platform import running_platform

SEMIPRIME = (2**31 - 1) * (2**61 - 1)


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):6.2f} ms   p95 {pick(0.95):6.2f} ms   p99 {pick(0.99):6.2f} ms"


def _client_commands(client: redis.Redis, action) -> Counter:
    """Commands that clients sent while ``action`` ran (MONITOR), without those run inside scripts.

    Every script call (EVALSHA) is one round trip; the commands of a pipeline share one round trip.
    """
    seen: Counter = Counter()
    ready = threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if command["command"] == "ECHO bench-stop":
                    return
                if command["client_type"] != "lua":
                    seen[command["command"].split()[0].upper()] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    ready.wait()
    time.sleep(0.2)  # MONITOR is attached once the first command is seen; give it a moment
    action()
    client.echo("bench-stop")
    watcher.join()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2000)
    args = parser.parse_args()

    settings = {"WEB_CONCURRENCY": "2", "WORKER_PROCESSES": "1", "WORKER_THREADS": "8", "WEBHOOK_WORKER_PROCESSES": "0"}
    with running_platform("web", **settings) as (url, server, group, env, logs):
        session = requests.Session()
        print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; logs in {logs}\n")
        for label, number in (("17", 17), ("(2^31-1)(2^61-1)", SEMIPRIME)):
            for _ in range(20):
                session.post(f"{url}/invoke", json={"number": number})
            samples = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = session.post(f"{url}/invoke", json={"number": number})
                samples.append(time.perf_counter() - started)
                assert response.status_code == 200
            print(f"POST /invoke {label:<18} {_percentiles(samples)}   ({args.requests} sequential, keep-alive)")

        client = redis.Redis.from_url(server.url)
        job = {"algorithm": "PrimeChecker", "params": {"number": 1_000_003}}
        job_id = session.post(f"{url}/jobs", json=job).json()["job_id"]
        print("\nRedis commands sent per request (MONITOR; a script call is one command and one round trip):")
        for label, action in (
            ("POST /invoke", lambda: session.post(f"{url}/invoke", json=job)),
            ("POST /jobs", lambda: session.post(f"{url}/jobs", json=job)),
            ("GET /jobs/<id>", lambda: session.get(f"{url}/jobs/{job_id}")),
        ):
            print(f"  {label:<16} {dict(_client_commands(client, action))}")

        with ThreadPoolExecutor(16) as pool:
            ids = list(pool.map(lambda _: session.post(f"{url}/jobs", json=job).json()["job_id"], range(args.jobs)))
        keys = [f"fs:job:{i}" for i in ids]

        def drain() -> None:
            group.start("worker", ["functionalscaffold", "worker"], env, logs)
            while client.zcard("fs:queue:jobs:ready") or client.hget(keys[-1], "status") != b"completed":
                time.sleep(0.05)

        commands = _client_commands(client, drain)
        group.stop(["worker"])
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "started_at", "completed_at")
        times = [(float(a), float(b)) for a, b in pipe.execute()]
        span = max(b for _, b in times) - min(a for a, _ in times)
        run = statistics.median(b - a for a, b in times) * 1000
        print(
            f"\nworker: 1 process x 8 threads drained {args.jobs} jobs in {span:.2f} s = "
            f"{args.jobs / span:.0f} jobs/s (median run {run:.2f} ms)"
        )
        per_job = {name: round(count / args.jobs, 2) for name, count in commands.most_common()}
        print(f"  Redis commands per job while draining (the bench's own LLEN/HGET included): {per_job}")


if __name__ == "__main__":
    main()
