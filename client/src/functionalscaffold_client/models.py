"""What the client returns: jobs, invocations and algorithms, as dataclasses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Statuses after which a job does not change any more.
FINISHED = ("completed", "failed", "cancelled")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class WebhookAttempt:
    series: int
    number: int
    at: datetime | None
    duration: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Webhook:
    url: str
    id: str
    state: str
    reason: str | None
    attempts: tuple[WebhookAttempt, ...]


@dataclass(frozen=True)
class Attempt:
    """One run of a job: its outcome (running, completed, failed, timeout, cancelled, crashed)."""

    attempt: int
    started_at: datetime | None
    ended_at: datetime | None
    outcome: str
    error: str | None


@dataclass(frozen=True)
class Progress:
    """What a running job's algorithm last reported."""

    fraction: float
    message: str | None
    updated_at: datetime | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Progress:
        return cls(float(data["fraction"]), data.get("message"), _time(data.get("updated_at")))


@dataclass(frozen=True)
class Job:
    job_id: str
    status: str
    algorithm: str | None = None
    params: dict[str, Any] | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    expires_at: datetime | None = None
    attempts: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    #: When the algorithm raised: the end of its traceback.
    error_details: str | None = None
    metadata: dict[str, Any] | None = None
    timeout: float | None = None
    cancel_requested: bool = False
    webhook: Webhook | None = None
    priority: int = 5
    next_run_at: datetime | None = None
    retry: dict[str, Any] | None = None
    attempt_history: tuple[Attempt, ...] = ()
    batch_id: str | None = None
    #: The API key (its id) the job belongs to.
    owner: str | None = None
    progress: Progress | None = None
    #: Host name of the worker that runs, or ran, its latest run.
    worker_host: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Job:
        webhook = data.get("webhook")
        return cls(
            job_id=data["job_id"],
            status=data["status"],
            algorithm=data.get("algorithm"),
            params=data.get("params"),
            created_at=_time(data.get("created_at")),
            started_at=_time(data.get("started_at")),
            completed_at=_time(data.get("completed_at")),
            expires_at=_time(data.get("expires_at")),
            attempts=data.get("attempts", 0),
            result=data.get("result"),
            error=data.get("error"),
            error_details=data.get("error_details"),
            metadata=data.get("metadata"),
            timeout=data.get("timeout"),
            cancel_requested=data.get("cancel_requested", False),
            priority=data.get("priority", 5),
            next_run_at=_time(data.get("next_run_at")),
            retry=data.get("retry"),
            attempt_history=tuple(
                Attempt(
                    a["attempt"], _time(a.get("started_at")), _time(a.get("ended_at")), a["outcome"], a.get("error")
                )
                for a in data.get("attempt_history") or []
            ),
            batch_id=data.get("batch_id"),
            owner=data.get("owner"),
            progress=Progress.from_json(data["progress"]) if data.get("progress") else None,
            worker_host=data.get("worker_host"),
            webhook=None
            if not webhook
            else Webhook(
                url=webhook["url"],
                id=webhook["id"],
                state=webhook["state"],
                reason=webhook.get("reason"),
                attempts=tuple(
                    WebhookAttempt(
                        a["series"],
                        a["number"],
                        _time(a.get("at")),
                        a["duration"],
                        a.get("status_code"),
                        a.get("error"),
                    )
                    for a in webhook.get("attempts", [])
                ),
            ),
        )

    @classmethod
    def page_from_json(cls, page: dict[str, Any]) -> list[Job]:
        return [cls.from_json(job) for job in page["jobs"]]


@dataclass(frozen=True)
class Batch:
    """Jobs submitted together: how many are in each status, and (from ``get_batch``) a page of them."""

    batch_id: str
    status: str
    total: int
    counts: dict[str, int]
    created_at: datetime | None
    completed_at: datetime | None
    job_ids: tuple[str, ...] = ()
    jobs: tuple[Job, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        return cls(
            batch_id=data["batch_id"],
            status=data.get("status", "running"),
            total=data.get("total", len(data.get("job_ids", []))),
            counts=data.get("counts", {}),
            created_at=_time(data.get("created_at")),
            completed_at=_time(data.get("completed_at")),
            job_ids=tuple(data.get("job_ids", ())),
            jobs=tuple(Job.from_json(job) for job in data.get("jobs", [])),
        )


@dataclass(frozen=True)
class Invocation:
    """The answer of ``invoke``: the algorithm's result and how it ran."""

    request_id: str
    result: dict[str, Any]
    metadata: dict[str, Any]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Invocation:
        return cls(data["request_id"], data["result"], data["metadata"])


@dataclass(frozen=True)
class Algorithm:
    name: str
    version: str
    description: str
    params_schema: dict[str, Any]
    example: dict[str, Any]
    default_timeout: float | None = None

    @classmethod
    def list_from_json(cls, data: list[dict[str, Any]]) -> list[Algorithm]:
        return [
            cls(
                a["name"],
                a["version"],
                a.get("description", ""),
                a["params_schema"],
                a.get("example", {}),
                a.get("default_timeout"),
            )
            for a in data
        ]


@dataclass(frozen=True)
class JobEvent:
    """One event of ``Client.events``: ``kind`` is ``status`` (``job`` is the job as it is now),
    ``progress`` (``progress``), ``webhook`` (``data``: one delivery attempt) or ``end`` (``data``:
    ``{"status"}``; the last event)."""

    kind: str
    id: str | None
    data: dict[str, Any]
    job: Job | None = None
    progress: Progress | None = None
