"""Job control: how late scheduled jobs start, how fast a high priority jumps a backlog, and how many
jobs a second batches create against single submissions."""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import requests
from report import Row, at_most, percentile, ratio_at_least
from stack import Stack
from support import wait_until

from phases import Settings, load


def _at(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def _submit(session: requests.Session, url: str, body: dict) -> str:
    answer = session.post(f"{url}/jobs", json=body, timeout=30)
    answer.raise_for_status()
    return answer.json()["job_id"]


def _job(session: requests.Session, url: str, job_id: str) -> dict:
    return session.get(f"{url}/jobs/{job_id}", timeout=30).json()


def due_time_errors(url: str, count: int, spread: float, background_rate: float) -> list[float]:
    """Seconds each of ``count`` jobs scheduled 0.5 to ``spread`` s ahead started after its due time,
    while immediate jobs arrive at ``background_rate`` a second."""
    session = requests.Session()
    stop = threading.Event()

    def background() -> None:
        other = requests.Session()
        while not stop.wait(1 / background_rate):
            _submit(other, url, {"algorithm": "PrimeChecker", "params": {"number": random.randrange(10**6)}})

    feeder = threading.Thread(target=background, daemon=True)
    feeder.start()
    try:
        due: dict[str, float] = {}
        for _ in range(count):
            job_id = _submit(
                session,
                url,
                {"algorithm": "PrimeChecker", "params": {"number": 97}, "delay_seconds": random.uniform(0.5, spread)},
            )
            due[job_id] = _at(_job(session, url, job_id)["next_run_at"])
        started: dict[str, float] = {}

        def all_started() -> bool:
            for job_id in due.keys() - started.keys():
                job = _job(session, url, job_id)
                if job["started_at"]:
                    started[job_id] = _at(job["started_at"])
            return len(started) == len(due)

        wait_until(all_started, timeout=spread + 60, interval=0.2, message="every scheduled job to start")
    finally:
        stop.set()
        feeder.join()
    return [started[job_id] - due[job_id] for job_id in due]


def priority_jump(url: str, backlog: int) -> tuple[float, float]:
    """With ``backlog`` priority-1 jobs waiting on busy slots, a priority-9 job submitted: seconds
    from the moment a slot freed (the latest run to end before it started) to its start; and the
    same for a priority-1 job submitted with it (which waits its turn), in jobs run before it."""
    session = requests.Session()
    with ThreadPoolExecutor(16) as pool:
        queued = list(
            pool.map(
                lambda _: _submit(session, url, {"algorithm": "Sleeping", "params": {"seconds": 0.05}, "priority": 1}),
                range(backlog),
            )
        )
    wait_until(lambda: _job(session, url, queued[50])["status"] != "pending", timeout=60, message="the backlog to move")
    urgent = _submit(session, url, {"algorithm": "Sleeping", "params": {"seconds": 0.01}, "priority": 9})
    wait_until(lambda: _job(session, url, urgent)["status"] == "completed", timeout=60, message="the urgent job")
    started = _at(_job(session, url, urgent)["started_at"])
    ended_before = [
        _at(job["completed_at"])
        for job in (_job(session, url, job_id) for job_id in queued)
        if job["completed_at"] and _at(job["completed_at"]) <= started
    ]
    ran_before = len(ended_before)
    return started - max(ended_before), ran_before


def run(stack: Stack, settings: Settings) -> list[Row]:
    rows = {
        "due50": Row("scheduled job start after its due time, p50", "ms"),
        "due99": Row("scheduled job start after its due time, p99", "ms", target="≤ 50 ms", check=at_most(50)),
        "jump": Row(
            "priority 9 start after a slot frees, 2,000 priority-1 jobs waiting",
            "ms",
            target="≤ 50 ms",
            check=at_most(50),
        ),
        "batch": Row(
            "jobs created per second: batches of 1,000",
            "jobs/s",
            "single POST /jobs, 32 connections",
            target="≥ 5× per job",
            check=ratio_at_least(5),
        ),
    }
    stack.flush()
    url = stack.start_web("web")
    try:
        for _ in range(settings.repeat):
            stack.flush()
            single = load(
                f"{url}/jobs",
                settings,
                method="POST",
                body=json.dumps({"algorithm": "PrimeChecker", "params": {"number": 97}}),
            )
            jobs = [{"algorithm": "PrimeChecker", "params": {"number": 97}} for _ in range(1000)]
            batched = load(
                f"{url}/batches",
                settings,
                method="POST",
                body=json.dumps({"jobs": jobs}),
                connections=4,
                seconds=settings.pick(10.0, 3.0),  # a batch takes a good part of a second
            )
            rows["batch"].platform.samples.append(batched["rps"] * 1000)
            rows["batch"].baseline.samples.append(single["rps"])
        stack.flush()
        stack.start_worker(WORKER_PROCESSES="1", WORKER_THREADS="8")
        wait_until(lambda: _warm(url), timeout=60, message="the worker to run jobs")
        for _ in range(settings.repeat):
            errors = [e * 1000 for e in due_time_errors(url, settings.pick(300, 30), settings.pick(4.0, 1.5), 50)]
            rows["due50"].platform.samples.append(percentile(errors, 0.5))
            rows["due99"].platform.samples.append(percentile(errors, 0.99))
            jump, _ = priority_jump(url, settings.pick(2000, 200))
            rows["jump"].platform.samples.append(jump * 1000)
            stack.flush()
        return list(rows.values())
    finally:
        stack.stop("web", "worker")


def _warm(url: str) -> bool:
    answer = requests.post(
        f"{url}/jobs",
        json={"algorithm": "PrimeChecker", "params": {"number": 7}},
        headers={"Prefer": "wait=5"},
        timeout=10,
    )
    return answer.status_code == 200
