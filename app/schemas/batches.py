"""POST /batches and GET /batches/{batch_id}: request and responses."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.domain.models import Batch
from app.schemas.fields import Pattern, QueryInteger, Timestamp
from app.schemas.jobs import JOB_ID_PARAMETER, JobCreateSchema, JobSchema, WebhookSchema, webhook_field
from app.services.batches import MAX_BATCH_JOBS
from app.services.jobs import CURSOR_PATTERN as LIST_CURSOR_PATTERN

#: The ``batch_id`` path parameter, documented: any other value is 404 BATCH_NOT_FOUND.
BATCH_ID_PARAMETER = {
    **JOB_ID_PARAMETER,
    "name": "batch_id",
    "description": "The batch's id, as POST /batches returned it",
}
#: Largest page of a batch's jobs, and the page size when none is asked for.
MAX_PAGE, DEFAULT_PAGE = 100, 20
#: A page cursor: the position of the page's first job.
CURSOR_PATTERN = r"^[0-9]{1,4}$"


class BatchCreateSchema(Schema):
    jobs = fields.List(
        fields.Nested(JobCreateSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH_JOBS, error=f"must hold 1 to {MAX_BATCH_JOBS} jobs"),
        metadata={"description": f"The jobs (1 to {MAX_BATCH_JOBS}), each as POST /jobs takes it"},
    )
    webhook = webhook_field()


class BatchCreatedSchema(Schema):
    batch_id = fields.String(required=True, metadata={"example": "b1c2d3e4f5a6"})
    job_ids = fields.List(fields.String(), required=True, metadata={"description": "In the order submitted"})
    created_at = Timestamp(required=True)
    message = fields.String(required=True, metadata={"example": "Batch created"})


class BatchCountsSchema(Schema):
    scheduled = fields.Integer()
    pending = fields.Integer()
    running = fields.Integer()
    completed = fields.Integer()
    failed = fields.Integer()
    cancelled = fields.Integer()


class BatchSchema(Schema):
    batch_id = fields.String(required=True)
    status = fields.String(
        validate=validate.OneOf(["running", "completed"]), metadata={"description": "completed once every job ended"}
    )
    total = fields.Integer(required=True)
    counts = fields.Nested(BatchCountsSchema, metadata={"description": "Jobs per status"})
    created_at = Timestamp(required=True)
    completed_at = Timestamp(allow_none=True, metadata={"description": "When its last job ended"})
    expires_at = Timestamp(required=True)
    webhook = fields.Nested(WebhookSchema, allow_none=True)


class BatchPageSchema(BatchSchema):
    jobs = fields.List(fields.Nested(JobSchema), metadata={"description": "A page of its jobs, in the order submitted"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "Pass as cursor for the next page"})


class BatchQuerySchema(Schema):
    limit = QueryInteger(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(
        validate=Pattern(CURSOR_PATTERN, error="must be the next_cursor of a previous page"),
        metadata={"description": "next_cursor of the previous page"},
    )


class BatchListQuerySchema(Schema):
    limit = QueryInteger(load_default=DEFAULT_PAGE, validate=validate.Range(min=1, max=MAX_PAGE))
    cursor = fields.String(
        validate=Pattern(LIST_CURSOR_PATTERN, error="must be the next_cursor of a previous page"),
        metadata={"description": "next_cursor of the previous page"},
    )


class BatchListSchema(Schema):
    batches = fields.List(fields.Nested(BatchSchema), required=True, metadata={"description": "Newest first"})
    next_cursor = fields.String(
        allow_none=True, metadata={"description": "Pass as cursor for the next page; null on the last one"}
    )


def batch_view(batch: Batch, jobs: list[Any] | None = None, next_offset: int | None = None) -> dict[str, Any]:
    """What BatchSchema (with ``jobs``: BatchPageSchema) dumps."""
    view: dict[str, Any] = {
        "batch_id": batch.batch_id,
        "status": "completed" if batch.finished else "running",
        "total": batch.total,
        "counts": batch.counts,
        "created_at": batch.created_at,
        "completed_at": batch.completed_at,
        "expires_at": batch.expires_at,
        "webhook": batch.webhook,
    }
    if jobs is not None:
        view["jobs"] = jobs
        view["next_cursor"] = str(next_offset) if next_offset is not None else None
    return view
