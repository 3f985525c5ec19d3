"""What each API call sends and how its answer is read, written once for both clients.

An operation is a generator: it yields ``Request`` (and gets back the answer's JSON) or ``Pause``
(and gets back None), and returns the call's result. ``Client`` runs it with blocking I/O,
``AsyncClient`` with awaits; the two differ in nothing else, so their results, errors and waits agree.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from functionalscaffold_client.errors import UnexpectedResponse, WaitTimeout
from functionalscaffold_client.models import Algorithm, Batch, Invocation, Job

#: Longest wait the server holds one request for; longer waits take several requests.
SERVER_WAIT_SECONDS = 60.0
#: Largest page the API serves.
MAX_PAGE_SIZE = 100

T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One API request, before any HTTP library sees it."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: May be sent again after a lost answer (see ``_retry``).
    idempotent: bool = False
    #: Seconds the server may hold it on top of the client's timeout (long polls), or None.
    held_seconds: float = 0.0
    #: Replaces the client's timeout for the answer (``invoke``, which answers once the run is done).
    read_timeout: float | None = None


@dataclass(frozen=True)
class Pause:
    """Wait this long before the next request (polling a server that does not hold requests)."""

    seconds: float


Operation = Generator["Request | Pause", Any, T]


def parse(build: Callable[[Any], T], data: Any) -> T:
    """``build(data)``, with an answer missing what the platform always sends reported as such."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnexpectedResponse(f"the answer does not look like the platform's ({exc!r})") from None


def job_body(
    algorithm: str,
    params: dict[str, Any],
    webhook: str | None = None,
    timeout: float | None = None,
    retry: dict[str, Any] | int | None = None,
    run_at: datetime | None = None,
    delay_seconds: float | None = None,
    priority: int | None = None,
) -> dict[str, Any]:
    """A job as POST /jobs (and each job of a batch) takes it; naive ``run_at`` is local time."""
    body: dict[str, Any] = {"algorithm": algorithm, "params": params}
    optional = {
        "webhook": webhook,
        "timeout": timeout,
        "retry": {"max_attempts": retry} if isinstance(retry, int) else retry,
        "run_at": run_at.astimezone().isoformat() if run_at is not None else None,
        "delay_seconds": delay_seconds,
        "priority": priority,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    return body


def invoke(algorithm: str, params: dict[str, Any], read_timeout: float) -> Operation[Invocation]:
    data = yield Request("POST", "/invoke", {"algorithm": algorithm, "params": params}, read_timeout=read_timeout)
    return parse(Invocation.from_json, data)


def submit(
    body: dict[str, Any], idempotency_key: str | None, wait: float | None, clock: Callable[[], float]
) -> Operation[Job]:
    headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    held = min(wait or 0.0, SERVER_WAIT_SECONDS)
    if held:
        headers["Prefer"] = f"wait={held:g}"
    started = clock()
    data = yield Request("POST", "/jobs", body, headers=headers, idempotent=True, held_seconds=held)
    job = parse(Job.from_json, {"algorithm": body["algorithm"], "params": body["params"], **data})
    remaining = (wait or 0.0) - (clock() - started)
    if job.finished or remaining <= 0:
        return job
    try:
        return (yield from wait_for(job.job_id, None if remaining == float("inf") else remaining, None, clock=clock))
    except WaitTimeout as exc:  # not finished in time: the job as it is
        return exc.job


def get(job_id: str) -> Operation[Job]:
    return parse(Job.from_json, (yield Request("GET", f"/jobs/{job_id}", idempotent=True)))


def wait_for(
    job_id: str,
    timeout: float | None,
    on_progress: Callable[[Job, float], None] | None,
    *,
    interval: float = SERVER_WAIT_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Operation[Job]:
    """The long poll (``?wait=``), falling back to polling with backoff when a server answers at once."""
    started = clock()
    longest = min(interval, SERVER_WAIT_SECONDS)
    pause = 0.1
    first = on_progress is not None  # a plain read first: the caller shows the status from the start
    while True:
        elapsed = clock() - started
        hold = longest if timeout is None else max(0.0, min(longest, timeout - elapsed))
        if first:
            hold, first = 0.0, False
        asked = clock()
        data = yield Request("GET", f"/jobs/{job_id}", params={"wait": f"{hold:g}"}, idempotent=True, held_seconds=hold)
        job = parse(Job.from_json, data)
        elapsed = clock() - started
        if on_progress:
            on_progress(job, elapsed)
        if job.finished:
            return job
        if timeout is not None and elapsed >= timeout:
            raise WaitTimeout(job, timeout)
        if clock() - asked < hold / 2:  # not held by the server: poll, backing off
            yield Pause(min(pause, hold))
            pause = min(pause * 2, 2.0)


def list_params(
    status: str | None,
    algorithm: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    page_size: int,
) -> dict[str, Any]:
    """The query of the first page of ``list``; naive datetimes are local time."""
    params: dict[str, Any] = {"limit": max(1, min(page_size, MAX_PAGE_SIZE))}
    for name, value in (("status", status), ("algorithm", algorithm)):
        if value is not None:
            params[name] = value
    for name, moment in (("created_after", created_after), ("created_before", created_before)):
        if moment is not None:
            params[name] = moment.astimezone().isoformat()
    return params


def list_page(params: dict[str, Any]) -> Operation[tuple[list[Job], dict[str, Any] | None]]:
    """One page of jobs, and the query of the next page (None after the last)."""
    page = yield Request("GET", "/jobs", params=params, idempotent=True)
    jobs = parse(Job.page_from_json, page)
    cursor = page.get("next_cursor")
    return jobs, ({**params, "cursor": cursor} if cursor else None)


def cancel(job_id: str) -> Operation[Job]:
    return parse(Job.from_json, (yield Request("POST", f"/jobs/{job_id}/cancel")))


def redeliver_webhook(job_id: str) -> Operation[Job]:
    return parse(Job.from_json, (yield Request("POST", f"/jobs/{job_id}/webhook/redeliver")))


def submit_batch(jobs: list[dict[str, Any]], webhook: str | None, idempotency_key: str | None) -> Operation[Batch]:
    body: dict[str, Any] = {"jobs": jobs}
    if webhook is not None:
        body["webhook"] = webhook
    headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
    data = yield Request("POST", "/batches", body, headers=headers, idempotent=True)
    return parse(Batch.from_json, {"total": len(jobs), **data})


def get_batch(batch_id: str, limit: int, cursor: str | None) -> Operation[Batch]:
    params: dict[str, Any] = {"limit": limit}
    if cursor is not None:
        params["cursor"] = cursor
    return parse(Batch.from_json, (yield Request("GET", f"/batches/{batch_id}", params=params, idempotent=True)))


def cancel_batch(batch_id: str) -> Operation[Batch]:
    return parse(Batch.from_json, (yield Request("POST", f"/batches/{batch_id}/cancel", idempotent=True)))


def algorithms() -> Operation[list[Algorithm]]:
    return parse(Algorithm.list_from_json, (yield Request("GET", "/algorithms", idempotent=True)))
