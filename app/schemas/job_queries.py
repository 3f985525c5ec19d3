"""Query strings and headers of the job endpoints, and the page of a listing."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.domain.models import JobStatus
from app.schemas.fields import Pattern, QueryDateTime, QueryInteger, QueryNumber
from app.schemas.jobs import JobSchema
from app.services.jobs import CURSOR_PATTERN
from app.services.waiting import MAX_WAIT_SECONDS

#: An owner id: an API key's (``key-…``, ``env-…``) or ``_`` (jobs made while the API was open).
OWNER_PATTERN = r"^[A-Za-z0-9_-]+$"

#: Largest page of a listing, and the page size when none is asked for.
MAX_PAGE, DEFAULT_PAGE = 100, 20


#: Printable ASCII, not starting or ending with a space (HTTP drops those from a header's value).
IDEMPOTENCY_KEY_PATTERN = r"^[!-~]([ -~]*[!-~])?$"


class WaitQuerySchema(Schema):
    wait = QueryNumber(
        load_default=0.0,
        validate=validate.Range(min=0, max=MAX_WAIT_SECONDS),
        metadata={
            "description": f"Seconds (at most {MAX_WAIT_SECONDS:g}) to hold the answer until the job "
            "finishes; then it answers as it is"
        },
    )


class JobListQuerySchema(Schema):
    limit = QueryInteger(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(
        validate=Pattern(CURSOR_PATTERN, error="must be the next_cursor of a previous page"),
        metadata={"description": "next_cursor of the previous page"},
    )
    status = fields.Enum(JobStatus, by_value=True)
    algorithm = fields.String(validate=validate.Length(min=1, max=64))
    created_after = QueryDateTime(metadata={"description": "ISO 8601 with a UTC offset; exclusive"})
    created_before = QueryDateTime(metadata={"description": "ISO 8601 with a UTC offset; exclusive"})
    owner = fields.String(
        validate=[validate.Length(min=1, max=64), Pattern(OWNER_PATTERN, error="must be an owner id")],
        metadata={"description": "Admins: only this owner's jobs (an API key's id, or _)"},
    )


class JobPageSchema(Schema):
    jobs = fields.List(fields.Nested(JobSchema), required=True, metadata={"description": "Newest first"})
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as cursor for the next page; null on the last one"}
    )


class JobCreateHeadersSchema(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        validate=[validate.Length(min=1, max=255), Pattern(IDEMPOTENCY_KEY_PATTERN, error="must be printable ASCII")],
        metadata={"description": "Retrying with the same key and body returns the first job instead of a new one"},
    )
    prefer = fields.String(
        data_key="Prefer",
        metadata={
            "description": f"wait=N: answer 200 with the finished job if it ends within N seconds "
            f"(at most {MAX_WAIT_SECONDS:g}), else 202 as usual"
        },
    )


class EventsHeadersSchema(Schema):
    last_event_id = fields.String(
        data_key="Last-Event-ID",
        validate=Pattern(r"^[0-9]{1,15}$", error="must be the id of an event this stream sent"),
        metadata={"description": "Resume after this event (browsers send it when they reconnect)"},
    )
