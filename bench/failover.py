"""REDIS_MIN_REPLICAS: jobs answered 202 then lost over Redis failovers, without and with it, and what
it costs POST /jobs.

Usage: python bench/failover.py [--failovers 10] [--lag-ms 100] [--repeat 3]

Everything on 127.0.0.1: a Redis master, a replica and three sentinels (``tests/helpers/sentinels.py``),
and the Procfile's processes using them (REDIS_SENTINELS).

1. Loss: the replica runs ``--lag-ms`` behind its master (a relay holds back what the master sends
   it); under 40 submissions/s from the Python client (which retries 503s with the same
   Idempotency-Key), the master's host dies ``--failovers`` times (``failovers.lost_over_failovers``);
   afterwards each job answered 202 is looked up. Once with REDIS_MIN_REPLICAS=0, once with 1.
2. Cost: web alone, the replica not held back, POST /jobs from ``bench/load.py`` (5 s samples):
   requests/s with 32 connections and latency with 1, ``--repeat`` times each, REDIS_MIN_REPLICAS=0
   against 1.

Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "helpers"))
from failovers import lost_over_failovers
from phases import Settings, load
from platforms import procfile_processes
from sentinels import Sentinels
from support import ProcessGroup, platform_env, wait_until

from app.infra.embedded_redis import free_port

JOB = json.dumps({"algorithm": "PrimeChecker", "params": {"number": 17}})
SETTINGS = {"WEB_CONCURRENCY": "2", "WORKER_PROCESSES": "1", "ALGORITHM_MODULES": "", "LOG_LEVEL": "WARNING"}


def _folder(root: Path, name: str) -> Path:
    path = root / name
    path.mkdir()
    return path


def losses(root: Path, failovers: int, lag_ms: float) -> dict[int, str]:
    rows = {}
    with Sentinels(_folder(root, "loss-redis"), replication_delay_ms=lag_ms) as sentinels:
        for replicas in (0, 1):
            settings = {**sentinels.settings, **SETTINGS, "REDIS_MIN_REPLICAS": str(replicas)}
            with procfile_processes(_folder(root, f"loss-{replicas}"), **settings) as (url, _):
                run = lost_over_failovers(url, sentinels, failovers)
            rows[replicas] = (
                f"{len(run.lost)} lost of {len(run.accepted)} accepted ({len(run.failed)} never accepted); "
                f"replica {statistics.median(run.lag_seconds) * 1000:.0f} ms behind at the median; "
                f"failover {statistics.median(run.failover_seconds):.1f} s at the median, "
                f"{max(run.failover_seconds):.1f} s at most"
            )
            print(f"REDIS_MIN_REPLICAS={replicas}: {rows[replicas]}", file=sys.stderr)
    return rows


def _web(root: Path, name: str, **settings: str) -> tuple[str, ProcessGroup]:
    port = free_port()
    env = platform_env(PORT=str(port), HOST="127.0.0.1", WEB_ACCESS_LOG="", **SETTINGS, **settings)
    group = ProcessGroup()
    group.start("web", ["functionalscaffold", "web"], env, str(_folder(root, name)))
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _ready(url), timeout=30, interval=0.1, message="the web process")
    return url, group


def _ready(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/readyz", timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def costs(root: Path, repeat: int) -> dict[int, dict[str, float]]:
    results: dict[int, dict[str, list[float]]] = {0: {}, 1: {}}
    settings = Settings(repeat=repeat)
    with Sentinels(_folder(root, "cost-redis")) as sentinels:
        urls = {}
        groups = []
        try:
            for replicas in (0, 1):
                url, group = _web(root, f"cost-{replicas}", **sentinels.settings, REDIS_MIN_REPLICAS=str(replicas))
                urls[replicas] = url
                groups.append(group)
            for _ in range(repeat):  # interleaved, so that both see the same machine
                for replicas, url in urls.items():
                    busy = load(f"{url}/jobs", settings, method="POST", body=JOB)
                    alone = load(f"{url}/jobs", settings, method="POST", body=JOB, connections=1)
                    row = results[replicas]
                    row.setdefault("rps", []).append(busy["rps"])
                    row.setdefault("p50_32", []).append(busy["p50_ms"])
                    row.setdefault("p50_1", []).append(alone["p50_ms"])
                    row.setdefault("p99_1", []).append(alone["p99_ms"])
        finally:
            for group in groups:
                group.stop()
    return {replicas: {k: statistics.median(v) for k, v in row.items()} for replicas, row in results.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failovers", type=int, default=10)
    parser.add_argument("--lag-ms", type=float, default=100.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fs-failover-"))
    lost = losses(root, args.failovers, args.lag_ms)
    cost = costs(root, args.repeat)
    print(f"\n{args.failovers} failovers, the master's host dying under 40 submissions/s, its replica "
          f"{args.lag_ms:g} ms behind:")  # fmt: skip
    for replicas, text in lost.items():
        print(f"  REDIS_MIN_REPLICAS={replicas}: {text}")
    print(f"\nPOST /jobs, web alone (2 processes), replica in step, median of {args.repeat}:")
    print("  | REDIS_MIN_REPLICAS | req/s, 32 conn. | p50 ms, 32 conn. | p50 ms, 1 conn. | p99 ms, 1 conn. |")
    print("  | --- | --- | --- | --- | --- |")
    for replicas, row in cost.items():
        print(f"  | {replicas} | {row['rps']:,.0f} | {row['p50_32']:.1f} | {row['p50_1']:.2f} | {row['p99_1']:.2f} |")
    print(f"\n(logs: {root})")


if __name__ == "__main__":
    main()
