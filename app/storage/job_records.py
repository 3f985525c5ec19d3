"""How a job is laid out in Redis: a hash of short state fields, and its input and output as JSON.

Every state value stays within 64 bytes, so Redis keeps the hash in its compact encoding; what can
be long (params, result, error, webhook url, request id) lives in the two strings.
"""

from __future__ import annotations

import json
from typing import Any

from app.models import Job, JobStatus, Webhook, WebhookAttempt, WebhookState

_FLOAT_FIELDS = ("created_at", "expires_at", "started_at", "completed_at", "timeout")

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
    given = {"params": job.params, "request_id": job.request_id}
    if job.webhook is not None:
        given["webhook"] = job.webhook.url
    return json.dumps(given)


def pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def decode(
    job_id: str,
    state: dict[bytes, bytes],
    given: bytes | None,
    output: bytes | None,
    log: list[bytes] = (),
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
            attempts=tuple(WebhookAttempt(**json.loads(entry)) for entry in log),
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
    )
