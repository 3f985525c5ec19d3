"""Domain values shared by services, storage and workers: a job and its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any


class JobStatus(str, Enum):
    """Lifecycle of a job: [scheduled →] pending → running → completed | failed | cancelled.

    ``scheduled``: waiting for its time (``run_at``, ``delay_seconds``), or for its next attempt
    after a failed one (retry policy); it is ``pending`` once due. A run cut short (its worker
    stopping or dying) makes a running job pending again. A job not yet running can be cancelled
    directly, without running; a finished one never changes.
    """

    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def utc(timestamp: float | None) -> datetime | None:
    """Unix seconds → aware UTC datetime (None stays None)."""
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


class WebhookState(str, Enum):
    """pending (not yet delivered, attempts to come) → delivered | failed."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST to the receiver, as the delivery log shows it."""

    series: int  # 1, then one more for each redelivery
    number: int  # within the series, from 1
    at: float  # Unix seconds when it started
    duration: float  # seconds
    status_code: int | None = None
    error: str | None = None  # when no HTTP answer came: timeout, connection_refused, dns, tls...
    #: The job's version once this attempt was recorded (0 for a batch's): event streams resume from it.
    version: int = 0


@dataclass(frozen=True)
class Webhook:
    """A job's webhook: where it goes, its event id (the same on every attempt) and how delivery went."""

    url: str
    id: str
    state: WebhookState = WebhookState.PENDING
    reason: str | None = None
    series: int = 1
    attempts: tuple[WebhookAttempt, ...] = ()
    #: Attempts recorded in the current series: the next attempt's number is one more.
    attempted: int = 0


@dataclass(frozen=True)
class Attempt:
    """A run of a job that did not end it: failed and retried, or cut short by a crash."""

    attempt: int
    started_at: float | None
    ended_at: float | None
    outcome: str  # failed, timeout, crashed
    error: str | None = None


@dataclass(frozen=True)
class Progress:
    """What a running job's algorithm last reported: how far it is (0 to 1) and what it does."""

    fraction: float
    message: str | None
    #: Unix seconds when it was reported.
    updated_at: float


@dataclass(frozen=True)
class Job:
    """A job as stored: timestamps are Unix seconds, ``result``/``metadata`` are JSON-ready dicts."""

    job_id: str
    status: JobStatus
    algorithm: str
    params: dict[str, Any]
    created_at: float
    expires_at: float
    webhook: Webhook | None = None
    request_id: str | None = None
    started_at: float | None = None
    completed_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    #: For a failed run: the end of the algorithm's traceback (at most ``ERROR_DETAILS_MAX_BYTES``).
    error_details: str | None = None
    metadata: dict[str, Any] | None = None
    attempts: int = 0
    #: Host name of the worker that runs, or ran, the latest run.
    worker_host: str | None = None
    #: The API key (its id) the job belongs to; "_" when the API is open.
    owner: str = "_"
    #: Seconds the job may run before it is stopped and failed with TIMEOUT.
    timeout: float | None = None
    #: A cancellation was asked for while the job was running.
    cancel_requested: bool = False
    #: 0 to 9, 9 first, among jobs waiting for a worker.
    priority: int = 5
    #: When a scheduled job is due (its first run, or its next attempt), Unix seconds.
    next_run_at: float | None = None
    #: How failed runs are retried (None: run once).
    retry: Any = None
    #: Runs cut short by a crash (worker or algorithm process), counted against JOB_MAX_ATTEMPTS.
    crashes: int = 0
    #: Earlier runs that did not end the job (bounded, oldest dropped first).
    attempt_history: tuple[Attempt, ...] = ()
    #: The batch the job was submitted in, if any.
    batch_id: str | None = None
    #: The latest progress its current (or last) run reported.
    progress: Progress | None = None
    #: Goes up with every change of the job (status, progress, webhook attempt): event ids.
    version: int = 0


@dataclass(frozen=True)
class Batch:
    """Jobs submitted together, followed together: how many are in each status, and when all ended."""

    batch_id: str
    owner: str
    created_at: float
    expires_at: float
    total: int
    #: Jobs per status (every status, zeros included).
    counts: dict[str, int]
    completed_at: float | None = None
    webhook: Webhook | None = None
    request_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.completed_at is not None
