"""POST /jobs and GET /jobs/{job_id}: request and responses."""

from __future__ import annotations

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from app.models import JobStatus, WebhookState
from app.schemas.fields import Seconds, Timestamp
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


class JobCreateSchema(Schema):
    algorithm = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "PrimeChecker"}
    )
    params = fields.Dict(
        required=True,
        metadata={"description": "The algorithm's params (see its schema)", "example": {"number": 17}},
    )
    webhook = fields.String(
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
    timeout = Seconds(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Seconds the job may run before it is stopped and fails with TIMEOUT "
            "(default: the algorithm's, else JOB_TIMEOUT_DEFAULT_SECONDS; at most JOB_TIMEOUT_MAX_SECONDS)",
            "example": 30,
        },
    )


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
