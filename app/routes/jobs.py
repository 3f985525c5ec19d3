"""The job endpoints: create, read (optionally waiting), list, cancel, retry, redeliver the webhook."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Response, jsonify, url_for
from marshmallow import RAISE

from app.domain.errors import Forbidden
from app.domain.models import Job
from app.routes import services
from app.schemas.job_queries import (
    EventsHeadersSchema,
    JobCreateHeadersSchema,
    JobListQuerySchema,
    JobPageSchema,
    WaitQuerySchema,
)
from app.schemas.jobs import (
    JOB_ID_PARAMETER,
    JobCreatedSchema,
    JobCreateSchema,
    JobSchema,
    ProgressSchema,
    WebhookAttemptSchema,
)
from app.services.events import Event
from app.services.jobs import JobFilter
from app.services.waiting import MAX_WAIT_SECONDS
from app.web import openapi
from app.web.api import RATE_LIMIT_HEADERS, Blueprint
from app.web.auth import current_owner, current_principal, visible_owner
from app.web.request_id import current_request_id

blp = Blueprint("jobs", __name__, description="Queue algorithm runs and follow them")

_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+(?:\.\d+)?)", re.IGNORECASE)
_job_schema = JobSchema()

#: What each event of the stream holds (OpenAPI 3.0: the schema of one event, as SSE tools read it).
SSE_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event", "data", "id"],
    "properties": {
        "event": {"type": "string", "enum": ["status", "progress", "webhook", "end"]},
        "data": {
            "type": "string",
            "description": "JSON: the job (status), its progress (progress), one delivery attempt (webhook), "
            'or {"status": ...} (end)',
        },
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The job's version: send as Last-Event-ID"},
        "retry": {"type": "integer"},
    },
}


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
@blp.errors(400, 401, 403, 429, 503)
def list_jobs(query: dict[str, Any]) -> dict[str, Any]:
    """List your jobs (an admin: everyone's)

    Newest first, `limit` at a time; pass `next_cursor` back as `cursor` for the next page. Filters:
    `status`, `algorithm`, `created_after`, `created_before` (exclusive bounds), and for admins
    `owner` (an API key's id; `_` for jobs made while the API was open). A client key may name
    only itself as `owner` (403 FORBIDDEN otherwise).
    """
    where = JobFilter(
        status=query["status"].value if "status" in query else None,
        algorithm=query.get("algorithm"),
        created_after=_timestamp(query.get("created_after")),
        created_before=_timestamp(query.get("created_before")),
    )
    owner = _listed_owner(query.get("owner"))
    jobs, next_cursor = services().jobs.list_jobs(owner, where, query["limit"], query.get("cursor"))
    return {"jobs": jobs, "next_cursor": next_cursor}


def _listed_owner(asked: str | None) -> str | None:
    """Whose jobs a listing shows: the caller's own, or (an admin) anyone's or ``asked``'s."""
    visible = visible_owner()
    if asked is None or asked == visible:
        return visible
    if visible is not None:
        raise Forbidden("Only an admin API key may list another owner's jobs", {"field": "owner"})
    return asked


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
    return services().jobs.wait_for(job_id, visible_owner(), wait)


@blp.route("/jobs/<job_id>/cancel", methods=["POST"], parameters=[JOB_ID_PARAMETER])
@blp.response(202, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 409, 429, 503)
def cancel_job(job_id: str) -> Job:
    """Cancel a job

    A pending job is cancelled at once and never runs. A running one is stopped (its process is
    ended) within a fraction of a second and ends `cancelled` (unless it finished first, which then
    stands); meanwhile it shows `cancel_requested`. A finished job answers 409 JOB_ALREADY_FINISHED.
    """
    return services().jobs.cancel_job(job_id, visible_owner())


@blp.route("/jobs/<job_id>/webhook/redeliver", methods=["POST"], parameters=[JOB_ID_PARAMETER])
@blp.response(202, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 409, 429, 503)
def redeliver_webhook(job_id: str) -> Job:
    """Send a finished job's webhook again

    Starts a new series of attempts (1 s, 5 s, 15 s retries), with the same `webhook-id` so that
    receivers can tell it is the same event. 404 when the job has no webhook, 409 when it has not
    finished yet.
    """
    return services().jobs.redeliver_webhook(job_id, visible_owner())


@blp.route("/jobs/<job_id>/retry", methods=["POST"], parameters=[JOB_ID_PARAMETER])
@blp.response(202, JobSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 404, 409, 429, 503)
def retry_job(job_id: str) -> Job:
    """Run a failed or cancelled job again

    It becomes `pending` as its next attempt (its last run joins `attempt_history`), keeps its
    params and priority, and is kept `JOB_TTL_SECONDS` from now. If it has a webhook, the new
    outcome is sent as a new event (a new `webhook-id`). Any other status answers 409
    JOB_NOT_RETRYABLE.
    """
    return services().jobs.retry_job(job_id, visible_owner())


@blp.route("/jobs/<job_id>/events", methods=["GET"], parameters=[JOB_ID_PARAMETER])
@blp.arguments(EventsHeadersSchema, location="headers", as_kwargs=True)
@blp.doc(
    responses={
        200: {
            "description": "A stream of Server-Sent Events (see above)",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        }
    }
)
@blp.errors(400, 401, 404, 429, 503)
def job_events(job_id: str, last_event_id: str | None = None) -> Response:
    """Follow a job live (Server-Sent Events)

    First the job's current state, then each change as it happens: `status` (data: the job, as
    GET /jobs/{job_id} shows it), `progress` (data: its progress), `webhook` (data: one delivery
    attempt); then `end` (data: `{"status": ...}`) once the job has finished and its webhook is
    delivered or has failed, and the stream closes. Each event's `id` is the job's version: reconnect
    with `Last-Event-ID` to get only what changed since. Comment lines keep an idle stream alive;
    a stream lasts at most 5 minutes (reconnect to go on). 503 when this server process holds
    `EVENT_STREAMS_MAX` streams.
    """
    events = services().jobs.stream_events(
        job_id, visible_owner(), int(last_event_id) if last_event_id is not None else None
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(_server_sent(events), mimetype="text/event-stream", headers=headers)


def _server_sent(events: Iterator[Event | None]) -> Iterator[str]:
    """The events in the text/event-stream format (a comment for each keep-alive)."""
    yield f"retry: {SSE_RETRY_MS}\n\n"
    for event in events:
        if event is None:
            yield ": keep-alive\n\n"
            continue
        data = _event_schemas[event.kind].dump(event.data) if event.kind in _event_schemas else event.data
        yield f"id: {event.id}\nevent: {event.kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


#: Milliseconds a client waits before reconnecting a dropped stream.
SSE_RETRY_MS = 1000
_event_schemas = {"status": JobSchema(), "progress": ProgressSchema(), "webhook": WebhookAttemptSchema()}


def _timestamp(moment: datetime | None) -> float | None:
    """To the millisecond, as creation times are kept."""
    return round(moment.timestamp(), 3) if moment is not None else None
