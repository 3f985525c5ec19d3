"""ProgressWriter: a job's progress written a few times a second at most, the latest always."""

from __future__ import annotations

import threading

from support import wait_until

from app.domain.errors import StorageUnavailable
from app.domain.models import Job, JobStatus
from workers.progress import ProgressWriter


def _job(job_id: str = "a1b2c3d4e5f6") -> Job:
    return Job(job_id, JobStatus.RUNNING, "PrimeChecker", {}, 0.0, 0.0, attempts=1)


def test_a_burst_is_one_write_now_and_the_latest_one_after_the_interval() -> None:
    written: list[tuple[str, float, str]] = []
    done = threading.Event()

    def write(job: Job, fraction: float, message: str) -> bool:
        written.append((job.job_id, fraction, message))
        if fraction == 0.99:
            done.set()
        return True

    writer = ProgressWriter(write, interval=0.2)
    try:
        for i in range(100):
            writer(_job(), i / 100, f"step {i}")
        assert written == [("a1b2c3d4e5f6", 0.0, "step 0")]  # the first at once, in the caller's thread
        assert done.wait(timeout=5)  # the newest, by the writer's thread, once the interval has passed
        assert written == [("a1b2c3d4e5f6", 0.0, "step 0"), ("a1b2c3d4e5f6", 0.99, "step 99")]
    finally:
        writer.close()


def test_jobs_are_throttled_apart_and_a_failed_write_is_dropped() -> None:
    written: list[str] = []

    def write(job: Job, fraction: float, message: str) -> bool:
        if message == "down":
            raise StorageUnavailable()
        written.append(f"{job.job_id}:{message}")
        return True

    writer = ProgressWriter(write, interval=0.2)
    try:
        writer(_job("aaaaaaaaaaaa"), 0.1, "down")  # Redis away: dropped, the run goes on
        writer(_job("bbbbbbbbbbbb"), 0.1, "b")  # another job: written at once
        writer(_job("aaaaaaaaaaaa"), 0.2, "a")  # within a's interval: kept for later
        assert written == ["bbbbbbbbbbbb:b"]
        wait_until(lambda: written == ["bbbbbbbbbbbb:b", "aaaaaaaaaaaa:a"], timeout=5, message="a's latest report")
    finally:
        writer.close()
