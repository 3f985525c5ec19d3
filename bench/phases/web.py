"""Requests per second of the web API against bare Flask doing the least the same endpoint must do."""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor

import requests
from report import Row, ratio_at_least
from stack import Stack

from phases import Settings, load

JOB = {"algorithm": "PrimeChecker", "params": {"number": 17}}
STORED_JOBS = 1000


def _paths(url: str, count: int) -> str:
    """A file of ``/jobs/<id>`` paths of ``count`` jobs created through ``url``."""
    with requests.Session() as session, ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: session.post(f"{url}/jobs", json=JOB, timeout=10).json()["job_id"], range(count)))
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as f:
        f.write("\n".join(f"/jobs/{job_id}" for job_id in ids))
    return f.name


def run(stack: Stack, settings: Settings) -> list[Row]:
    stack.flush()
    platform, bare = stack.start_web("web"), stack.start_web("bare-web")
    try:
        stored = settings.pick(STORED_JOBS, 50)
        platform_paths, bare_paths = _paths(platform, stored), _paths(bare, stored)
        body = json.dumps(JOB)
        create = Row(
            "POST /jobs (no consumer running)",
            "req/s",
            "bare Flask: HSET + LPUSH",
            target="≥ 0.8×",
            check=ratio_at_least(0.8),
        )
        create_p50 = Row("POST /jobs latency p50, 32 connections", "ms", "bare Flask: HSET + LPUSH")
        read = Row("GET /jobs/{id}", "req/s", "bare Flask: HGETALL", target="≥ 0.7×", check=ratio_at_least(0.7))
        invoke = Row(
            "POST /invoke 17", "req/s", "bare Flask: GET small JSON", target="≥ 0.6×", check=ratio_at_least(0.6)
        )
        for _ in range(settings.repeat):
            ours = load(f"{platform}/jobs", settings, method="POST", body=body)
            theirs = load(f"{bare}/jobs", settings, method="POST", body=body)
            create.platform.samples.append(ours["rps"])
            create.baseline.samples.append(theirs["rps"])
            create_p50.platform.samples.append(ours["p50_ms"])
            create_p50.baseline.samples.append(theirs["p50_ms"])
            read.platform.samples.append(load(platform, settings, paths_file=platform_paths)["rps"])
            read.baseline.samples.append(load(bare, settings, paths_file=bare_paths)["rps"])
            invoke.platform.samples.append(
                load(f"{platform}/invoke", settings, method="POST", body='{"number": 17}')["rps"]
            )
            invoke.baseline.samples.append(load(f"{bare}/hello", settings)["rps"])
        return [create, create_p50, read, invoke]
    finally:
        stack.stop("web", "bare-web")
