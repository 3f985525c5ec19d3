"""Submit → completed latency at 1 and 100 jobs/s, and the CPU the workers use while idle."""

from __future__ import annotations

from report import Row, at_most
from stack import Stack

from phases import Settings, run_json

BASELINE = "plain Dramatiq, client polls every 10 ms"


def _latencies(system: str, target: str, rate: float, seconds: float) -> dict:
    return run_json(
        "latency_client.py",
        system,
        target,
        "--rate",
        str(rate),
        "--seconds",
        str(seconds),
        "--warmup",
        "2",
        timeout=seconds + 120,
    )


def run(stack: Stack, settings: Settings) -> list[Row]:
    slow_seconds, fast_seconds, idle_seconds = settings.pick(30, 3), settings.pick(5, 0.5), settings.pick(10, 1)
    rows = {
        ("1", "p50"): Row("submit → completed at 1 job/s, p50", "ms", BASELINE, target="≤ 10 ms", check=at_most(10)),
        ("1", "p95"): Row("submit → completed at 1 job/s, p95", "ms", BASELINE, target="≤ 25 ms", check=at_most(25)),
        ("1", "p99"): Row("submit → completed at 1 job/s, p99", "ms", BASELINE),
        ("100", "p50"): Row("submit → completed at 100 jobs/s, p50", "ms", BASELINE),
        ("100", "p95"): Row("submit → completed at 100 jobs/s, p95", "ms", BASELINE),
        ("100", "p99"): Row("submit → completed at 100 jobs/s, p99", "ms", BASELINE),
    }
    idle = Row(
        "CPU of the idle worker processes", "% of a core", "plain Dramatiq worker", target="≤ 5 %", check=at_most(5)
    )
    stack.flush()
    url = stack.start_web("web")
    try:
        for _ in range(settings.repeat):
            for system, target, name in (
                ("platform", url, "worker"),
                ("dramatiq", stack.redis_server.url, "raw-dramatiq"),
            ):
                if system == "platform":
                    stack.start_worker(WORKER_PROCESSES="1", WORKER_THREADS="8")
                else:
                    stack.start_raw_dramatiq(1, 8)
                _latencies(system, target, 5, 1)  # until the workers have started
                series = "platform" if system == "platform" else "baseline"
                getattr(idle, series).samples.append(stack.idle_cpu_percent(name, idle_seconds))
                for rate, seconds in (("1", slow_seconds), ("100", fast_seconds)):
                    result = _latencies(system, target, float(rate), seconds)
                    if result["error_count"]:
                        raise RuntimeError(f"{system} at {rate}/s: {result['errors']}")
                    for q in ("p50", "p95", "p99"):
                        getattr(rows[rate, q], series).samples.append(result[f"{q}_ms"])
                stack.stop(name)
        return [*rows.values(), idle]
    finally:
        stack.stop("web", "worker", "raw-dramatiq")
