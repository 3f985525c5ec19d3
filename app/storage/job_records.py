"""How a job is laid out in Redis: a hash of short state fields, and its input and output as JSON.

Every state value stays within 64 bytes, so Redis keeps the hash in its compact encoding; what can
be long (params, result, error, webhook url, request id) lives in the two strings.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import algorithms
from app.domain.models import Attempt, Job, JobStatus, Progress, Webhook, WebhookAttempt, WebhookState

_FLOAT_FIELDS = ("created_at", "expires_at", "started_at", "completed_at", "timeout", "next_run_at")
#: Priority of a job whose state does not say (saving the field for the common case).
DEFAULT_PRIORITY = 5

#: Longest value of a state field: Redis keeps hashes of values up to 64 bytes compact.
_SHORT = 64


def encode_state(job: Job) -> list[str]:
    fields: dict[str, Any] = {
        "status": job.status.value,
        "algorithm": job.algorithm,
        "created_at": repr(job.created_at),
        "expires_at": repr(job.expires_at),
        "attempts": job.attempts,
        "owner": job.owner,
        "timeout": repr(job.timeout) if job.timeout is not None else None,
        "priority": job.priority if job.priority != DEFAULT_PRIORITY else None,
        "next_run_at": repr(job.next_run_at) if job.next_run_at is not None else None,
        "batch": job.batch_id,
    }
    if job.webhook is not None:
        fields.update(
            webhook_id=job.webhook.id,
            webhook_state=job.webhook.state.value,
            webhook_series=job.webhook.series,
        )
    return [str(item) for pair in fields.items() if pair[1] is not None for item in pair]


def short(text: str) -> str:
    """``text`` cut to what a state field holds (64 bytes of UTF-8)."""
    encoded = text.encode()
    return text if len(encoded) <= _SHORT else encoded[: _SHORT - 3].decode(errors="ignore") + "..."


def encode_input(job: Job) -> str:
    given: dict[str, Any] = {"params": job.params, "request_id": job.request_id}
    if job.webhook is not None:
        given["webhook"] = job.webhook.url
    if job.retry is not None:
        given["retry"] = job.retry.as_dict()
    return json.dumps(given)


def pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def decode(
    job_id: str,
    state: dict[bytes, bytes],
    given: bytes | None,
    output: bytes | None,
    log: list[bytes] = (),
    history: list[bytes] = (),
    progress: bytes | None = None,
) -> Job:
    data: dict[str, Any] = {key.decode(): value.decode() for key, value in state.items()}
    for name in _FLOAT_FIELDS:
        if name in data:
            data[name] = float(data[name])
    inputs = json.loads(given) if given else {}
    outputs = json.loads(output) if output else {}
    webhook = None
    if "webhook" in inputs:
        webhook = Webhook(
            url=inputs["webhook"],
            id=data["webhook_id"],
            state=WebhookState(data.get("webhook_state", "pending")),
            reason=data.get("webhook_reason"),
            series=int(data.get("webhook_series", 1)),
            attempts=tuple(decode_attempt(entry) for entry in log),
            attempted=int(data.get("webhook_attempt", 0)),
        )
    return Job(
        job_id=job_id,
        status=JobStatus(data["status"]),
        algorithm=data["algorithm"],
        params=inputs.get("params"),
        created_at=data["created_at"],
        expires_at=data["expires_at"],
        webhook=webhook,
        request_id=inputs.get("request_id"),
        started_at=data.get("started_at"),
        completed_at=data.get("completed_at"),
        result=outputs.get("result"),
        error=outputs.get("error"),
        error_details=outputs.get("error_details"),
        metadata=outputs.get("metadata"),
        attempts=int(data.get("attempts", 0)),
        worker_host=data.get("worker_host") or None,
        owner=data.get("owner", "_"),
        timeout=data.get("timeout"),
        cancel_requested=data.get("cancel_requested") == "1",
        priority=int(data.get("priority", DEFAULT_PRIORITY)),
        next_run_at=data.get("next_run_at"),
        retry=algorithms.RetryPolicy(**inputs["retry"]) if "retry" in inputs else None,
        crashes=int(data.get("crashes", 0)),
        attempt_history=tuple(Attempt(**json.loads(entry)) for entry in history),
        batch_id=data.get("batch"),
        progress=Progress(**json.loads(progress)) if progress else None,
        version=int(data.get("v", 0)),
    )


def encode_progress(progress: Progress) -> str:
    return json.dumps({"fraction": progress.fraction, "message": progress.message, "updated_at": progress.updated_at})


def encode_attempt(attempt: WebhookAttempt) -> str:
    """A webhook log entry (its version is the job's, added by the script that records it)."""
    fields = asdict(attempt)
    del fields["version"]
    return json.dumps(fields)


def decode_attempt(entry: bytes) -> WebhookAttempt:
    """A webhook log entry; a job's carries ``v``, the job's version when it was recorded."""
    fields = json.loads(entry)
    version = fields.pop("v", 0)
    return WebhookAttempt(**fields, version=version)
