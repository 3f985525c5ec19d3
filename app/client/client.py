"""Client: FunctionalScaffold from Python.

from app.client import Client

client = Client("http://127.0.0.1:8000")                        # or FUNCTIONALSCAFFOLD_URL
job = client.submit("PrimeChecker", {"number": 561}, wait=30)    # finished within 30 s
print(job.status, job.result)
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import requests

from app.client.errors import ConnectionFailed, UnexpectedResponse, WaitTimeout
from app.client.models import Algorithm, Batch, Invocation, Job, JobEvent, Progress
from app.client.transport import Transport

#: Where the platform is, and the API key, when not given to ``Client``.
URL_ENV, API_KEY_ENV = "FUNCTIONALSCAFFOLD_URL", "FUNCTIONALSCAFFOLD_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"
#: Longest wait the server holds one request for; longer waits take several requests.
SERVER_WAIT_SECONDS = 60.0
#: Largest page the API serves.
MAX_PAGE_SIZE = 100

T = TypeVar("T")


class Client:
    """A connection to the platform: one pooled HTTP session, retries included (see ``Transport``).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000``; default ``$FUNCTIONALSCAFFOLD_URL`` or that. Several
            (a list, or comma-separated): web replicas, a retry going to the next (see ``Transport``).
        api_key: default ``$FUNCTIONALSCAFFOLD_API_KEY``; none when the API is open.
        timeout: seconds to wait for the answer to one request (waits add the time they ask for).
        invoke_timeout: seconds to wait for ``invoke``, which answers only once the algorithm is done.
        retry_seconds: how long retries (of 429, 503, lost connections) may go on for one call.
    """

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        invoke_timeout: float = 600.0,
        retry_seconds: float = 60.0,
        session: requests.Session | None = None,
    ) -> None:
        self._http = Transport(
            base_url or os.environ.get(URL_ENV) or DEFAULT_URL,
            api_key if api_key is not None else os.environ.get(API_KEY_ENV),
            timeout=timeout,
            retry_seconds=retry_seconds,
            session=session,
        )
        self.invoke_timeout = invoke_timeout

    @property
    def base_url(self) -> str:
        """The base URL that answered last (the first, before any answer)."""
        return self._http.base_url

    def invoke(self, algorithm: str, **params: Any) -> Invocation:
        """Run ``algorithm`` now with ``params``; raises ``AlgorithmError`` if it fails.

        Not sent again once it has reached the platform (it could run twice): a lost answer raises.
        """
        body = self._http.json(
            "POST", "/invoke", json={"algorithm": algorithm, "params": params}, read_timeout=self.invoke_timeout
        )
        return _parse(Invocation.from_json, body)

    def submit(
        self,
        algorithm: str,
        params: dict[str, Any],
        webhook: str | None = None,
        *,
        timeout: float | None = None,
        wait: float | None = None,
        idempotency_key: str | None = None,
        retry: dict[str, Any] | int | None = None,
        run_at: datetime | None = None,
        delay_seconds: float | None = None,
        priority: int | None = None,
    ) -> Job:
        """Queue a job; with ``wait``, return it finished if it ends within that many seconds.

        ``retry``: a policy (``{"max_attempts": 3, "backoff_seconds": 2, ...}``, or just the number
        of attempts); ``run_at`` (a naive datetime is local time) or ``delay_seconds`` schedule it;
        ``priority`` 0-9, 9 first. Every attempt of one call carries the same ``Idempotency-Key``
        (generated here unless given), so a submission retried after a lost answer still makes
        exactly one job.
        """
        body = job_body(algorithm, params, webhook, timeout, retry, run_at, delay_seconds, priority)
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        held = min(wait or 0.0, SERVER_WAIT_SECONDS)
        if held:
            headers["Prefer"] = f"wait={held:g}"
        started = time.monotonic()
        data = self._http.json(
            "POST", "/jobs", json=body, headers=headers, idempotent=True, read_timeout=self._http.timeout + held
        )
        job = _parse(Job.from_json, {"algorithm": algorithm, "params": params, **data})
        remaining = (wait or 0.0) - (time.monotonic() - started)
        if job.finished or remaining <= 0:
            return job
        try:
            return self.wait(job.job_id, None if remaining == float("inf") else remaining)
        except WaitTimeout as exc:  # not finished in time: the job as it is
            return exc.job

    def get(self, job_id: str) -> Job:
        data = self._http.json("GET", f"/jobs/{job_id}", idempotent=True)
        return _parse(Job.from_json, data)

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The job's live events (``GET /jobs/{id}/events``): first its state, then each change,
        ending with an ``end`` event once it has finished and its webhook has settled.

        A dropped connection (or a server closing the stream) is reopened with the last event's id,
        so nothing is missed or repeated; connection failures raise ``ConnectionFailed`` once
        ``retry_seconds`` has passed without an answer.
        """
        failing_since: float | None = None
        while True:
            headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
            try:
                response = self._http.request(
                    "GET",
                    f"/jobs/{job_id}/events",
                    headers={"Accept": "text/event-stream", **headers},
                    idempotent=True,
                    read_timeout=STREAM_READ_TIMEOUT,
                    stream=True,
                )
                with response:
                    for event in _server_sent_events(response):
                        failing_since = None
                        if event.id is not None:
                            last_event_id = event.id
                        yield event
                        if event.kind == "end":
                            return
            except (requests.ConnectionError, requests.Timeout, ConnectionFailed) as exc:
                failing_since = failing_since or time.monotonic()
                if time.monotonic() - failing_since > self._http.retry_seconds:
                    raise ConnectionFailed(f"lost the event stream of job {job_id}: {exc}") from exc
                time.sleep(0.5)

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job, float], None] | None = None,
        *,
        interval: float = SERVER_WAIT_SECONDS,
    ) -> Job:
        """The job once finished; raises ``WaitTimeout`` after ``timeout`` seconds (None: no limit).

        Uses the server's long poll (``?wait=``), each request held at most ``interval`` seconds;
        when a server answers at once instead, falls back to polling with backoff.
        ``on_progress(job, elapsed)`` is called after each answer, the first one at once.
        """
        started = time.monotonic()
        longest = min(interval, SERVER_WAIT_SECONDS)
        pause = 0.1
        first = on_progress is not None  # a plain read first: the caller shows the status from the start
        while True:
            elapsed = time.monotonic() - started
            hold = longest if timeout is None else max(0.0, min(longest, timeout - elapsed))
            if first:
                hold, first = 0.0, False
            asked = time.monotonic()
            data = self._http.json(
                "GET",
                f"/jobs/{job_id}",
                params={"wait": f"{hold:g}"},
                idempotent=True,
                read_timeout=self._http.timeout + hold,
            )
            job = _parse(Job.from_json, data)
            elapsed = time.monotonic() - started
            if on_progress:
                on_progress(job, elapsed)
            if job.finished:
                return job
            if timeout is not None and elapsed >= timeout:
                raise WaitTimeout(job, timeout)
            if time.monotonic() - asked < hold / 2:  # not held by the server: poll, backing off
                time.sleep(min(pause, hold))
                pause = min(pause * 2, 2.0)

    def list(
        self,
        *,
        status: str | None = None,
        algorithm: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[Job]:
        """Every job of this API key matching the filters, newest first, fetched a page at a time.

        Naive datetimes are taken as local time.
        """
        params: dict[str, Any] = {"limit": max(1, min(page_size, MAX_PAGE_SIZE))}
        for name, value in (("status", status), ("algorithm", algorithm)):
            if value is not None:
                params[name] = value
        for name, moment in (("created_after", created_after), ("created_before", created_before)):
            if moment is not None:
                params[name] = moment.astimezone().isoformat()
        while True:
            page = self._http.json("GET", "/jobs", params=params, idempotent=True)
            yield from _parse(Job.page_from_json, page)
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    def cancel(self, job_id: str) -> Job:
        """Cancel a pending job, or ask a running one to stop; ``JobAlreadyFinished`` if it has ended.

        Not sent again once it has reached the platform: a retry of a cancel that worked would
        answer ``JobAlreadyFinished``.
        """
        data = self._http.json("POST", f"/jobs/{job_id}/cancel")
        return _parse(Job.from_json, data)

    def redeliver_webhook(self, job_id: str) -> Job:
        """Send a finished job's webhook again. Not sent again after a lost answer (it would send twice)."""
        data = self._http.json("POST", f"/jobs/{job_id}/webhook/redeliver")
        return _parse(Job.from_json, data)

    def submit_batch(
        self, jobs: list[dict[str, Any]], webhook: str | None = None, *, idempotency_key: str | None = None
    ) -> Batch:
        """Queue up to 1000 jobs at once (each a dict as ``job_body`` builds, or as POST /jobs takes);
        ``webhook`` hears once, when every job has ended. Retried safely (one Idempotency-Key)."""
        body: dict[str, Any] = {"jobs": jobs}
        if webhook is not None:
            body["webhook"] = webhook
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        data = self._http.json("POST", "/batches", json=body, headers=headers, idempotent=True)
        return _parse(Batch.from_json, {"total": len(jobs), **data})

    def get_batch(self, batch_id: str, *, limit: int = 20, cursor: str | None = None) -> Batch:
        """The batch's counts, and a page of its jobs (``limit``, from ``cursor``)."""
        params: dict[str, Any] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return _parse(Batch.from_json, self._http.json("GET", f"/batches/{batch_id}", params=params, idempotent=True))

    def cancel_batch(self, batch_id: str) -> Batch:
        """Cancel the batch's jobs that have not started, stop those running. Safe to repeat."""
        return _parse(Batch.from_json, self._http.json("POST", f"/batches/{batch_id}/cancel", idempotent=True))

    def algorithms(self) -> list[Algorithm]:
        return _parse(Algorithm.list_from_json, self._http.json("GET", "/algorithms", idempotent=True))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


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
    """A job as POST /jobs (and each job of a batch) takes it."""
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


def _parse(build: Callable[[Any], T], data: Any) -> T:
    """``build(data)``, with an answer missing what the platform always sends reported as such."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnexpectedResponse(f"the answer does not look like the platform's ({exc!r})") from None


#: Longest silence on an event stream before it is taken for dead and reopened (the server sends a
#: keep-alive every 15 s).
STREAM_READ_TIMEOUT = 45.0


def _server_sent_events(response: requests.Response) -> Iterator[JobEvent]:
    """Parse a text/event-stream body into events (comments and ``retry`` lines skipped)."""
    kind, event_id, data_lines = "message", None, []
    for raw in response.iter_lines(decode_unicode=True):
        line = raw if isinstance(raw, str) else raw.decode()
        if line == "":
            if data_lines:
                data = json.loads("\n".join(data_lines))
                yield JobEvent(
                    kind,
                    event_id,
                    data,
                    job=Job.from_json(data) if kind == "status" else None,
                    progress=Progress.from_json(data) if kind == "progress" else None,
                )
            kind, event_id, data_lines = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                kind = value
            elif name == "id":
                event_id = value
            elif name == "data":
                data_lines.append(value)
