"""POST /jobs and GET /jobs/{job_id}: request and responses."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

import algorithms
from algorithms.retries import MAX_ATTEMPTS, MAX_BACKOFF_SECONDS
from app.domain.models import Job, JobStatus, WebhookState
from app.schemas.fields import BodyDateTime, NonNegativeSeconds, Seconds, StrictBoolean, StrictInteger, Timestamp
from app.schemas.invoke import MetadataSchema
from app.services.jobs import JOB_ID_BYTES
from app.services.webhooks import redact_url

#: Longest accepted webhook URL.
MAX_WEBHOOK_URL_CHARS = 2048
#: The ``job_id`` path parameter, documented: any other value is 404 JOB_NOT_FOUND.
JOB_ID_PARAMETER = {
    "in": "path",
    "name": "job_id",
    "description": "The job's id, as POST /jobs returned it",
    "schema": {"type": "string", "pattern": f"^[0-9a-f]{{{2 * JOB_ID_BYTES}}}$", "example": "a1b2c3d4e5f6"},
}


def _http_url(value: str) -> None:
    if not value.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in value):
        raise ValidationError(
            "must be a valid http or https URL in ASCII: no spaces or control characters; percent-encode the "
            "path and write the host name in its xn-- form"
        )
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ValidationError("must be a valid http or https URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("must be a valid http or https URL")


def webhook_field() -> fields.String:
    """A webhook URL field, as job and batch submissions take it."""
    return fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=MAX_WEBHOOK_URL_CHARS), _http_url],
        metadata={
            "description": "URL (http or https) to POST the result to when the job ends. Its host must "
            "resolve, to public addresses unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is set (400 otherwise).",
            "format": "uri",
            # What _http_url checks, as far as a pattern can say it: http(s), then printable ASCII.
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[!-~]+$",
            # An address, not a name: the example must be accepted even where nothing resolves names.
            "example": "https://93.184.215.14/callback",
        },
    )


class RetrySchema(Schema):
    """A retry policy: how often, and after how long, a failed run is tried again."""

    max_attempts = StrictInteger(
        required=True,
        validate=validate.Range(min=1, max=MAX_ATTEMPTS),
        metadata={"description": "Runs in all (1: no retry)", "example": 3},
    )
    backoff_seconds = Seconds(
        load_default=1.0,
        validate=validate.Range(max=MAX_BACKOFF_SECONDS),
        metadata={"description": "Delay after the first failure; doubled after each next one", "example": 2},
    )
    max_backoff_seconds = Seconds(
        load_default=300.0,
        validate=validate.Range(max=MAX_BACKOFF_SECONDS),
        metadata={"description": "Longest delay: every delay is capped at this", "example": 60},
    )
    jitter = StrictBoolean(
        load_default=True,
        metadata={"description": "Wait a random time between half the delay and the delay", "example": True},
    )

    @post_load
    def _policy(self, data: dict[str, Any], **_: Any) -> algorithms.RetryPolicy:
        return algorithms.RetryPolicy(**data)


class JobCreateSchema(Schema):
    algorithm = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "PrimeChecker"}
    )
    params = fields.Dict(
        required=True,
        metadata={"description": "The algorithm's params (see its schema)", "example": {"number": 17}},
    )
    webhook = webhook_field()
    timeout = Seconds(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Seconds the job may run before it is stopped and fails with TIMEOUT "
            "(default: the algorithm's, else JOB_TIMEOUT_DEFAULT_SECONDS; at most JOB_TIMEOUT_MAX_SECONDS)",
            "example": 30,
        },
    )
    retry = fields.Nested(
        RetrySchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "Retry failed runs (default: the algorithm's policy, else run once)"},
    )
    run_at = BodyDateTime(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "When to run it (RFC 3339 with an offset): scheduled until then; at most "
            "SCHEDULE_HORIZON_SECONDS (30 days) ahead, at most a minute in the past (then it runs now)"
        },
    )
    delay_seconds = NonNegativeSeconds(
        load_default=None,
        allow_none=True,
        metadata={"description": "Run it this many seconds from now (instead of run_at)", "example": 0},
    )
    priority = StrictInteger(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=0, max=9),
        metadata={
            "description": "0 to 9, 9 first, among jobs waiting for a worker; default 5 (an API key may be "
            "limited to a lower maximum: 403 above it)",
            "example": 5,
        },
    )

    @validates_schema
    def _one_time(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("run_at") is not None and data.get("delay_seconds") is not None:
            raise ValidationError("give run_at or delay_seconds, not both", "delay_seconds")


class JobCreatedSchema(Schema):
    job_id = fields.String(required=True, metadata={"example": "a1b2c3d4e5f6"})
    status = fields.Enum(JobStatus, by_value=True, required=True)
    message = fields.String(required=True, metadata={"example": "Job created"})
    created_at = Timestamp(required=True)


class WebhookAttemptSchema(Schema):
    series = fields.Integer(metadata={"description": "1, then one more per redelivery"})
    number = fields.Integer(metadata={"description": "Attempt within the series, from 1"})
    at = Timestamp(metadata={"description": "When the attempt started"})
    duration = fields.Float(metadata={"description": "Seconds"})
    status_code = fields.Integer(allow_none=True, metadata={"description": "The receiver's HTTP status"})
    error = fields.String(
        allow_none=True,
        metadata={
            "description": "When no answer came: timeout, connection_refused, connection_error, dns, tls, "
            "forbidden_address"
        },
    )


class WebhookSchema(Schema):
    url = fields.Function(
        lambda webhook: redact_url(webhook.url),
        metadata={"description": "The webhook URL, credentials and query string hidden", "type": "string"},
    )
    id = fields.String(metadata={"description": "The webhook-id header: the same on every attempt"})
    state = fields.Enum(WebhookState, by_value=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why delivery failed"})
    attempts = fields.List(fields.Nested(WebhookAttemptSchema))


class AttemptSchema(Schema):
    attempt = fields.Integer(metadata={"description": "Run number, from 1"})
    started_at = Timestamp(allow_none=True)
    ended_at = Timestamp(allow_none=True, metadata={"description": "null: cut short by a crash, or running"})
    outcome = fields.String(
        metadata={"description": "running, completed, failed, timeout, cancelled, or crashed (run again)"}
    )
    error = fields.String(allow_none=True)


def attempt_history(job: Job) -> list[dict[str, Any]]:
    """The runs of a job: those kept in its history, then the latest one (from the job itself), as
    ``AttemptSchema`` shows them."""
    runs = [
        {
            "attempt": a.attempt,
            "started_at": a.started_at,
            "ended_at": a.ended_at,
            "outcome": a.outcome,
            "error": a.error,
        }
        for a in job.attempt_history
    ]
    if job.started_at is not None and job.attempts and not (runs and runs[-1]["attempt"] == job.attempts):
        ended = job.status.finished
        runs.append(
            {
                "attempt": job.attempts,
                "started_at": job.started_at,
                "ended_at": job.completed_at if ended else None,
                "outcome": job.status.value,
                "error": job.error if ended else None,
            }
        )
    return _attempts.dump(runs)


_attempts = AttemptSchema(many=True)


class ProgressSchema(Schema):
    fraction = fields.Float(metadata={"description": "How far the run is, 0 to 1", "example": 0.4})
    message = fields.String(allow_none=True, metadata={"description": "What it does now", "example": "sieving"})
    updated_at = Timestamp(metadata={"description": "When it was reported"})


class JobSchema(Schema):
    job_id = fields.String(required=True, metadata={"example": "a1b2c3d4e5f6"})
    status = fields.Enum(JobStatus, by_value=True, required=True)
    algorithm = fields.String(required=True, metadata={"example": "PrimeChecker"})
    params = fields.Dict(metadata={"description": "The params the job was submitted with"})
    created_at = Timestamp(required=True)
    started_at = Timestamp(allow_none=True, metadata={"description": "Start of the latest run"})
    completed_at = Timestamp(allow_none=True)
    expires_at = Timestamp(required=True, metadata={"description": "When the job and its result are deleted"})
    attempts = fields.Integer(metadata={"description": "Runs so far (a run cut short by a crash is repeated)"})
    worker_host = fields.String(
        allow_none=True, metadata={"description": "Host name of the worker that runs, or ran, the latest run"}
    )
    result = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True, metadata={"example": None})
    error_details = fields.String(
        allow_none=True,
        metadata={"description": "When the algorithm raised: the end of its traceback (at most 8 KB)", "example": None},
    )
    metadata = fields.Nested(MetadataSchema, allow_none=True)
    timeout = fields.Float(metadata={"description": "Seconds the job may run"})
    cancel_requested = fields.Boolean(metadata={"description": "A cancellation was asked while it ran"})
    webhook = fields.Nested(WebhookSchema, allow_none=True, metadata={"description": "Delivery log, when any"})
    priority = fields.Integer(metadata={"description": "0 to 9, 9 first"})
    next_run_at = Timestamp(
        allow_none=True, metadata={"description": "When a scheduled job is due (its first run or its next attempt)"}
    )
    retry = fields.Nested(RetrySchema, allow_none=True, metadata={"description": "Its retry policy, when any"})
    attempt_history = fields.Function(
        attempt_history,
        metadata={
            "description": "Every run, oldest first (the 20 newest kept): outcome and error of each",
            "type": "array",
            "items": {"$ref": "#/components/schemas/Attempt"},
        },
    )
    batch_id = fields.String(allow_none=True, metadata={"description": "The batch it was submitted in"})
    owner = fields.String(
        metadata={"description": "The API key (its id) the job belongs to; _ when made while the API was open"}
    )
    progress = fields.Nested(
        ProgressSchema,
        allow_none=True,
        metadata={"description": "What the current (or last) run last reported, if its algorithm reports progress"},
    )
