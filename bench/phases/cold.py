"""Cold start and memory at rest (issue 12): ``functionalscaffold worker`` at its defaults against
plain Dramatiq with the same processes × threads, and the web group against bare Flask under the
same gunicorn config. PSS from ``/proc/<pid>/smaps_rollup`` (pages shared between a group's
processes counted once)."""

from __future__ import annotations

import os
import secrets
import sys
import time

import requests
from report import Row, at_most
from stack import BASELINES, Stack, pss_mb

from phases import Settings

#: Seconds a group is left alone before its memory is read.
REST_SECONDS = 3.0
PROCESSES, THREADS = os.cpu_count() or 1, 8  # the worker's defaults


def _raw_dramatiq_start(stack: Stack) -> tuple[float, float]:
    """Seconds from starting plain Dramatiq to its first message done, and its group's PSS at rest."""
    os.environ["REDIS_URL"] = stack.redis_server.url
    sys.path.insert(0, str(BASELINES))
    import raw_dramatiq

    token = secrets.token_hex(8)
    raw_dramatiq.mark_done.send(token)
    started = time.time()
    stack.start_raw_dramatiq(PROCESSES, THREADS)
    try:
        deadline = time.monotonic() + 60
        while not stack.redis.exists(f"bare:done:{token}"):
            if time.monotonic() > deadline:
                raise TimeoutError("plain Dramatiq did not run its message")
            time.sleep(0.002)
        first = time.time() - started
        time.sleep(REST_SECONDS)
        return first, pss_mb(stack.processes("raw-dramatiq"))
    finally:
        stack.stop("raw-dramatiq")


def _web_pss(stack: Stack, name: str, path: str, body: str) -> float:
    """PSS of a web group at rest, after 200 requests."""
    url = stack.start_web(name)
    try:
        with requests.Session() as session:
            for _ in range(200):
                session.post(url + path, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        time.sleep(REST_SECONDS)
        return pss_mb(stack.processes(name))
    finally:
        stack.stop(name)


def run(stack: Stack, settings: Settings) -> list[Row]:
    sys.path.insert(0, str(BASELINES.parent))
    import cold_start

    quick = Row(
        f"worker start → first job completed (quick, in its thread), defaults: {PROCESSES} × {THREADS}",
        "s",
        "plain Dramatiq start → first message done",
        target="≤ 1.5 s",
        check=at_most(1.5),
    )
    child = Row("worker start → first job completed in an algorithm process", "s", "plain Dramatiq, same")
    replaced = Row(
        "SIGKILLed job worker → its replacement's first job (WORKER_PROCESSES=1)",
        "s",
        target="≤ 1.5 s",
        check=at_most(1.5),
    )
    worker_pss = Row(
        f"PSS of the worker group at rest after start, defaults ({PROCESSES} × {THREADS} + webhooks)",
        "MB",
        f"plain Dramatiq {PROCESSES} × {THREADS}",
        target="≤ 200 MB",
        check=at_most(200),
    )
    worker_used = Row("PSS of the worker group at rest after 32 jobs in algorithm processes", "MB", "plain Dramatiq")
    web_pss = Row(
        "PSS of the web group at rest after 200 POST /jobs (WEB_CONCURRENCY=2)",
        "MB",
        "bare Flask, same gunicorn config",
        target="≤ 100 MB",
        check=at_most(100),
    )
    stack.flush()
    bench = cold_start.Bench(stack.redis_server.url, stack.logs)
    try:
        for _ in range(settings.repeat):
            quick_s, child_s, rest_mb, used_mb = cold_start.cold_start(bench)
            quick.platform.samples.append(quick_s)
            child.platform.samples.append(child_s)
            worker_pss.platform.samples.append(rest_mb)
            worker_used.platform.samples.append(used_mb)
            replaced.platform.samples.append(cold_start.replacement(bench))
            raw_s, raw_mb = _raw_dramatiq_start(stack)
            for row in (quick, child):
                row.baseline.samples.append(raw_s)
            for row in (worker_pss, worker_used):
                row.baseline.samples.append(raw_mb)
            body = '{"algorithm": "PrimeChecker", "params": {"number": 17}}'
            web_pss.platform.samples.append(_web_pss(stack, "web", "/jobs", body))
            web_pss.baseline.samples.append(_web_pss(stack, "bare-web", "/jobs", body))
    finally:
        bench.stop()
        bench.close()
    return [quick, child, replaced, worker_pss, worker_used, web_pss]
