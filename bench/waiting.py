"""200 clients waiting at once (GET /jobs/{id}?wait=30): how late they hear, and what they hold.

Usage: python bench/waiting.py [--waiters 200]

Starts its own Redis, the web (2 gunicorn processes) and a worker with 50 threads on 127.0.0.1,
submits one 1-second job per waiter, and has every waiter wait on its own connection. Prints how
long after its job completed each waiter got the answer, /healthz latency meanwhile, and the Redis
connections open while they wait. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from datetime import datetime

import psutil
import redis
import requests
from _platform import running_platform


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {pick(0.5):.1f} ms, p99 {pick(0.99):.1f} ms, max {ordered[-1] * 1000:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--waiters", type=int, default=200)
    args = parser.parse_args()
    settings = {
        "ALGORITHM_MODULES": "testing_algorithms",
        "WORKER_PROCESSES": "1",
        "WORKER_THREADS": "50",
        "WEBHOOK_WORKER_PROCESSES": "0",
    }
    with running_platform("web", "worker", **settings) as (url, server, group, _, logs):
        client = redis.Redis.from_url(server.url)
        time.sleep(2)  # the worker's executor processes start
        baseline_connections = len(client.client_list())
        ids = [
            requests.post(f"{url}/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 1}}).json()["job_id"]
            for _ in range(args.waiters)
        ]
        lateness: list[float] = []
        lock = threading.Lock()

        def wait(job_id: str) -> None:
            job = requests.get(f"{url}/jobs/{job_id}?wait=30", timeout=40).json()
            late = time.time() - datetime.fromisoformat(job["completed_at"]).timestamp()
            with lock:
                lateness.append(late)

        waiters = [threading.Thread(target=wait, args=(job_id,)) for job_id in ids]
        for waiter in waiters:
            waiter.start()
        health, connections, subscribers = [], [], []
        while any(w.is_alive() for w in waiters):
            started = time.perf_counter()
            requests.get(f"{url}/healthz", timeout=10)
            health.append(time.perf_counter() - started)
            clients = client.client_list()
            connections.append(len(clients) - baseline_connections)
            subscribers.append(sum(1 for c in clients if int(c.get("sub", 0)) > 0))
            time.sleep(0.1)
        web = psutil.Process(group.processes["web"].pid)
        rss = sum(p.memory_info().rss for p in [web, *web.children(recursive=True)]) / 1e6
        print(f"{args.waiters} waiters (2 web processes x 160 threads, at most 128 waiting each); logs in {logs}")
        print(f"answered after completion: {_percentiles(lateness)}")
        print(f"/healthz meanwhile: {_percentiles(health)}")
        print(
            f"Redis connections: pub/sub (shared by all waiters of a process) at most {max(subscribers)}; "
            f"all others opened meanwhile (web pools, worker threads), at most {max(connections)}"
        )
        print(f"web RSS after: {rss:.0f} MB; median answer {statistics.median(lateness) * 1000:.1f} ms late")


if __name__ == "__main__":
    main()
