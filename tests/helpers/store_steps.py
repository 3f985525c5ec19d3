"""The job store's steps as the services take them, for storage tests: with the same messages."""

from __future__ import annotations

from typing import Any

from app.domain.models import Job, JobStatus
from app.services.messages import JOBS_QUEUE, run_job_message, webhook_message
from app.storage.jobs import JobStore
from app.storage.queue import Receipt

#: A receipt of no current delivery: finishing with it acknowledges nothing.
NO_DELIVERY = 0


def create(store: JobStore, job: Job, ttl_seconds: int, **kwargs: Any) -> Any:
    """Create ``job`` with its run message, as ``JobService.create_job`` does."""
    return store.create(job, ttl_seconds, run_job_message(job.job_id), **kwargs)


def start(
    store: JobStore, job_id: str, now: float, max_attempts: int = 3, give_up: str = "gave up", worker_host: str = ""
) -> Any:
    return store.start(job_id, now, max_attempts, give_up, webhook_message(job_id, 1), worker_host)


def finish(
    store: JobStore, job: Job, status: JobStatus, now: float, delivery: int = NO_DELIVERY, **outcome: Any
) -> bool:
    """Record the outcome of ``job``'s current run (``job`` as ``start`` returned it)."""
    receipt = Receipt(JOBS_QUEUE, job.job_id, delivery)
    return store.finish(job, status, now, receipt, webhook_message(job.job_id, 1), **outcome)


def cancel(store: JobStore, job_id: str, owner: str, now: float) -> str:
    return store.cancel(job_id, owner, now, webhook_message(job_id, 1), JOBS_QUEUE)
