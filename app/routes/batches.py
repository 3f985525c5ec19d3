"""The batch endpoints: submit many jobs at once, follow them together, cancel what is left."""

from __future__ import annotations

from typing import Any

from flask import url_for
from marshmallow import RAISE

from app.routes import services
from app.schemas.batches import (
    BATCH_ID_PARAMETER,
    BatchCreatedSchema,
    BatchCreateSchema,
    BatchListQuerySchema,
    BatchListSchema,
    BatchPageSchema,
    BatchQuerySchema,
    BatchSchema,
    batch_view,
)
from app.schemas.job_queries import JobCreateHeadersSchema
from app.services.jobs import JobRequest
from app.web import openapi
from app.web.api import RATE_LIMIT_HEADERS, Blueprint
from app.web.auth import current_owner, current_principal, visible_owner
from app.web.request_id import current_request_id

blp = Blueprint("batches", __name__, description="Submit many jobs at once and follow them together")


def _request(item: dict[str, Any]) -> JobRequest:
    return JobRequest(
        algorithm=item["algorithm"],
        params=item["params"],
        webhook=item["webhook"],
        timeout=item["timeout"],
        retry=item["retry"],
        run_at=item["run_at"].timestamp() if item["run_at"] is not None else None,
        delay_seconds=item["delay_seconds"],
        priority=item["priority"],
    )


@blp.route("/batches", methods=["POST"])
@blp.arguments(BatchCreateSchema)
@blp.doc(requestBody=openapi.body(openapi.BATCH_CREATE))  # each job as POST /jobs documents it
@blp.arguments(JobCreateHeadersSchema, location="headers", as_kwargs=True)
@blp.response(
    202,
    BatchCreatedSchema,
    headers={"Location": {"description": "URL of the batch", "schema": {"type": "string"}}, **RATE_LIMIT_HEADERS},
)
@blp.errors(400, 401, 403, 404, 409, 413, 415, 429, 503)
def create_batch(
    body: dict[str, Any], idempotency_key: str | None = None, prefer: str | None = None
) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Submit a batch of jobs

    1 to 1000 jobs, each as `POST /jobs` takes it. Every job is validated first: one invalid job
    rejects the batch, with every error named by its job's index (`jobs[17].params.number`), and
    nothing is stored. The jobs are then created together; each is an ordinary job. `webhook`
    receives one signed POST with the counts once every job has ended. `Idempotency-Key` works as
    for `POST /jobs`.
    """
    made = services().batches.create_batch(
        [_request(item) for item in body["jobs"]],
        current_owner(),
        webhook=body["webhook"],
        request_id=current_request_id(),
        idempotency_key=idempotency_key,
        max_priority=current_principal().max_priority,
        fingerprint_of=body,
    )
    created = {
        "batch_id": made.batch.batch_id,
        "job_ids": made.job_ids,
        "created_at": made.batch.created_at,
        "message": "Batch created",
    }
    return created, 202, {"Location": url_for(".get_batch", batch_id=made.batch.batch_id)}


@blp.route("/batches", methods=["GET"])
@blp.arguments(BatchListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, BatchListSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(400, 401, 429, 503)
def list_batches(query: dict[str, Any]) -> dict[str, Any]:
    """List your batches (an admin: everyone's)

    Newest first, `limit` at a time, without their jobs; pass `next_cursor` back as `cursor`.
    """
    batches, next_cursor = services().batches.list_batches(visible_owner(), query["limit"], query.get("cursor"))
    return {"batches": [batch_view(batch) for batch in batches], "next_cursor": next_cursor}


@blp.route("/batches/<batch_id>", methods=["GET"], parameters=[BATCH_ID_PARAMETER])
@blp.arguments(BatchQuerySchema, location="query", unknown=RAISE)
@blp.response(200, BatchPageSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(400, 401, 404, 429, 503)
def get_batch(query: dict[str, Any], batch_id: str) -> dict[str, Any]:
    """Get a batch

    How many of its jobs are in each status, `completed_at` once all have ended, and a page of its
    jobs in the order submitted (`limit`, then `next_cursor` as `cursor`).
    """
    offset = int(query.get("cursor", 0))
    page = services().batches.get_batch(batch_id, visible_owner(), offset, query["limit"])
    return batch_view(page.batch, page.jobs, page.next_offset)


@blp.route("/batches/<batch_id>/cancel", methods=["POST"], parameters=[BATCH_ID_PARAMETER])
@blp.response(202, BatchSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 429, 503)
def cancel_batch(batch_id: str) -> dict[str, Any]:
    """Cancel a batch

    Jobs not yet running are cancelled at once, running ones are asked to stop; finished jobs stay
    as they are.
    """
    return batch_view(services().batches.cancel_batch(batch_id, visible_owner()))
