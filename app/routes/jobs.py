"""The job endpoints: create, read (optionally waiting), list, cancel, redeliver the webhook."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Response, jsonify, url_for
from marshmallow import RAISE

from app import openapi
from app.api import RATE_LIMIT_HEADERS, Blueprint
from app.auth import current_owner, current_principal
from app.models import Job
from app.request_id import current_request_id
from app.routes import services
from app.schemas.job_queries import JobCreateHeadersSchema, JobListQuerySchema, JobPageSchema, WaitQuerySchema
from app.schemas.jobs import JOB_ID_PARAMETER, JobCreatedSchema, JobCreateSchema, JobSchema
from app.services.jobs import JobFilter
from app.services.waiting import MAX_WAIT_SECONDS

blp = Blueprint("jobs", __name__, description="Queue algorithm runs and follow them")

_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_job_schema = JobSchema()


def _preferred_wait(prefer: str | None) -> float | None:
    """Seconds of ``Prefer: wait=N`` (RFC 7240), at most a minute; None when not asked."""
    match = _PREFER_WAIT.search(prefer or "")
    return min(float(match.group(1)), MAX_WAIT_SECONDS) if match else None


@blp.route("/jobs", methods=["POST"])
@blp.arguments(JobCreateSchema)
@blp.doc(requestBody=openapi.body(openapi.JOB_CREATE))  # each algorithm's params, built by create_app
@blp.arguments(JobCreateHeadersSchema, location="headers", as_kwargs=True)
@blp.response(
    202,
    JobCreatedSchema,
    headers={"Location": {"description": "URL of the job", "schema": {"type": "string"}}, **RATE_LIMIT_HEADERS},
)
@blp.alt_response(
    200,
    schema=JobSchema,
    success=True,
    description="With Prefer: wait=N, the job, finished within N seconds",
    headers={"Preference-Applied": {"description": "wait=N", "schema": {"type": "string"}}, **RATE_LIMIT_HEADERS},
)
@blp.errors(400, 401, 404, 409, 413, 415, 429, 503)
def create_job(
    body: dict[str, Any], idempotency_key: str | None = None, prefer: str | None = None
) -> tuple[dict[str, Any], int, dict[str, str]] | Response:
    """Queue a job

    The job is stored before it is queued, so its id is valid as soon as this answers. Params are
    validated now, against the algorithm's schema. When the job ends, `webhook` (if given) receives
    a signed POST with the result. With an `Idempotency-Key`, retrying the same request returns the
    first job; with `Prefer: wait=N`, the answer waits up to N seconds for the job to finish.
    `run_at` or `delay_seconds` schedule it for later (status `scheduled` until then); `retry` runs
    a failed run again after a growing delay; `priority` (0-9, 9 first) orders jobs waiting for a
    worker.
    """
    owner = current_owner()
    job, _created = services().jobs.create_job(
        body["algorithm"],
        body["params"],
        owner,
        webhook=body["webhook"],
        timeout=body["timeout"],
        request_id=current_request_id(),
        idempotency_key=idempotency_key,
        retry=body["retry"],
        run_at=body["run_at"].timestamp() if body["run_at"] is not None else None,
        delay_seconds=body["delay_seconds"],
        priority=body["priority"],
        max_priority=current_principal().max_priority,
    )
    location = url_for(".get_job", job_id=job.job_id)
    wait = _preferred_wait(prefer)
    if wait is not None:
        job = services().jobs.wait_for(job.job_id, owner, wait)
        if job.status.finished:
            response = jsonify(_job_schema.dump(job))
            response.headers.update({"Location": location, "Preference-Applied": f"wait={wait:g}"})
            return response
    created = {"job_id": job.job_id, "status": job.status, "message": "Job created", "created_at": job.created_at}
    return created, 202, {"Location": location}


@blp.route("/jobs", methods=["GET"])
@blp.arguments(JobListQuerySchema, location="query", unknown=RAISE)
@blp.response(200, JobPageSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(400, 401, 429, 503)
def list_jobs(query: dict[str, Any]) -> dict[str, Any]:
    """List your jobs

    Newest first, `limit` at a time; pass `next_cursor` back as `cursor` for the next page. Filters:
    `status`, `algorithm`, `created_after`, `created_before` (exclusive bounds).
    """
    where = JobFilter(
        status=query["status"].value if "status" in query else None,
        algorithm=query.get("algorithm"),
        created_after=_timestamp(query.get("created_after")),
        created_before=_timestamp(query.get("created_before")),
    )
    jobs, next_cursor = services().jobs.list_jobs(current_owner(), where, query["limit"], query.get("cursor"))
    return {"jobs": jobs, "next_cursor": next_cursor}


@blp.route("/jobs/<job_id>", methods=["GET"], parameters=[JOB_ID_PARAMETER])
@blp.arguments(WaitQuerySchema, location="query", unknown=RAISE, as_kwargs=True)
@blp.response(200, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(400, 401, 404, 429, 503)
def get_job(job_id: str, wait: float = 0.0) -> Job:
    """Get a job's status and result

    Status moves pending → running → completed | failed | cancelled. With `wait=N`, the answer is
    held until the job finishes or N seconds pass. A job is kept until `expires_at`; after that (and
    for ids that never existed, or that belong to another API key) the answer is 404 JOB_NOT_FOUND.
    """
    return services().jobs.wait_for(job_id, current_owner(), wait)


@blp.route("/jobs/<job_id>/cancel", methods=["POST"], parameters=[JOB_ID_PARAMETER])
@blp.response(202, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 409, 429, 503)
def cancel_job(job_id: str) -> Job:
    """Cancel a job

    A pending job is cancelled at once and never runs. A running one is stopped (its process is
    ended) within a fraction of a second and ends `cancelled` (unless it finished first, which then
    stands); meanwhile it shows `cancel_requested`. A finished job answers 409 JOB_ALREADY_FINISHED.
    """
    return services().jobs.cancel_job(job_id, current_owner())


@blp.route("/jobs/<job_id>/webhook/redeliver", methods=["POST"], parameters=[JOB_ID_PARAMETER])
@blp.response(202, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 409, 429, 503)
def redeliver_webhook(job_id: str) -> Job:
    """Send a finished job's webhook again

    Starts a new series of attempts (1 s, 5 s, 15 s retries), with the same `webhook-id` so that
    receivers can tell it is the same event. 404 when the job has no webhook, 409 when it has not
    finished yet.
    """
    return services().jobs.redeliver_webhook(job_id, current_owner())


def _timestamp(moment: datetime | None) -> float | None:
    """To the millisecond, as creation times are kept."""
    return round(moment.timestamp(), 3) if moment is not None else None
