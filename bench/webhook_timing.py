"""How late webhook retries start: 50 concurrent deliveries to a receiver that always fails.

Usage: python bench/webhook_timing.py [--deliveries 50] [--rounds 1]

Starts its own Redis and the Procfile's web and worker processes on 127.0.0.1, submits the jobs at
once, and measures for every retry: arrival at the receiver minus (the previous answer + the
scheduled delay of 1 s, 5 s or 15 s). Prints p50, p99 and max of that error; nothing is asserted.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import requests
from _platform import running_platform
from support import WebhookReceiver

DELAYS = (1.0, 5.0, 15.0)


def retry_errors(url: str, deliveries: int, delays: tuple[float, ...] = DELAYS) -> list[float]:
    """Seconds by which each retry started late (negative: early), for ``deliveries`` failing at once."""
    receiver = WebhookReceiver(statuses=[500]).start()
    try:
        job = {"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": receiver.url()}
        with ThreadPoolExecutor(16) as pool:
            list(
                pool.map(
                    lambda _: requests.post(f"{url}/jobs", json=job, timeout=10).raise_for_status(), range(deliveries)
                )
            )
        attempts_each = len(delays) + 1
        deadline = time.monotonic() + sum(delays) + 30
        while len(receiver.received) < attempts_each * deliveries and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # one attempt too many, if any, would show here
        if len(receiver.received) != attempts_each * deliveries:
            print(f"  ! {len(receiver.received)} attempts for {deliveries} deliveries", file=sys.stderr)
        by_event = defaultdict(list)
        for received in receiver.received:
            by_event[received.headers["webhook-id"]].append(received)
        errors = []
        for attempts in by_event.values():
            if len(attempts) != attempts_each:
                print(f"  ! {len(attempts)} attempts for event {attempts[0].headers['webhook-id']}", file=sys.stderr)
            for (earlier, later), delay in zip(itertools.pairwise(attempts), delays, strict=False):
                errors.append(later.at - (earlier.answered_at + delay))
        return errors
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with running_platform("web", "worker", WEBHOOK_ALLOW_PRIVATE_NETWORKS="true") as (url, _, _, _, logs):
        errors: list[float] = []
        for _ in range(args.rounds):
            errors += retry_errors(url, args.deliveries)
        ms = sorted(e * 1000 for e in errors)
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        print(
            f"{args.deliveries} concurrent always-failing deliveries x {args.rounds} round(s), "
            f"{len(ms)} retries (1 s, 5 s, 15 s after each failure); logs in {logs}"
        )
        print(
            f"retry start error: p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms, "
            f"min {ms[0]:.1f} ms"
        )


if __name__ == "__main__":
    main()
