"""How late webhook retries start, for 50 deliveries failing at once (no baseline: the target is absolute)."""

from __future__ import annotations

from report import Row, at_most, percentile
from stack import Stack
from webhook_timing import DELAYS, retry_errors

from phases import Settings

DELIVERIES = 50


def run(stack: Stack, settings: Settings) -> list[Row]:
    delays = settings.pick(DELAYS, (0.2, 0.4, 0.8))
    rows = {
        "p50": Row(f"webhook retry start error, {DELIVERIES} failing at once, p50", "ms"),
        "p99": Row(
            f"webhook retry start error, {DELIVERIES} failing at once, p99", "ms", target="≤ 100 ms", check=at_most(100)
        ),
        "max": Row(f"webhook retry start error, {DELIVERIES} failing at once, max", "ms"),
    }
    stack.flush()
    delays_setting = ",".join(f"{d:g}" for d in delays)
    url = stack.start_web("web", WEBHOOK_RETRY_DELAYS=delays_setting)
    stack.start_worker(WEBHOOK_RETRY_DELAYS=delays_setting)
    try:
        for _ in range(settings.pick(settings.repeat, 1)):
            errors_ms = [e * 1000 for e in retry_errors(url, DELIVERIES, delays)]
            rows["p50"].platform.samples.append(percentile(errors_ms, 0.5))
            rows["p99"].platform.samples.append(percentile(errors_ms, 0.99))
            rows["max"].platform.samples.append(max(errors_ms))
        return list(rows.values())
    finally:
        stack.stop("web", "worker")
