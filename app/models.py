"""Domain values shared by services, storage and workers: a job and its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any


class JobStatus(str, Enum):
    """Lifecycle of a job: pending → running → completed | failed | cancelled, never backwards.

    A pending job can also be cancelled directly, without running.
    """

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
