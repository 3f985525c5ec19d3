"""Client: FunctionalScaffold from Python, blocking.

    from functionalscaffold_client import Client

    client = Client("http://127.0.0.1:8000")                        # or FUNCTIONALSCAFFOLD_URL
    job = client.submit("PrimeChecker", {"number": 561}, wait=30)    # finished within 30 s
    print(job.status, job.result)

Each method runs an operation of ``_calls`` (what is sent, how the answer is read), the very ones
``AsyncClient`` runs, over a ``Transport`` (the retry rules).
"""

from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from functionalscaffold_client import _calls
from functionalscaffold_client._calls import MAX_PAGE_SIZE, SERVER_WAIT_SECONDS, Operation, Pause
from functionalscaffold_client._events import EventParser, Following
from functionalscaffold_client.errors import ConnectionFailed
from functionalscaffold_client.models import Algorithm, Batch, Invocation, Job, JobEvent
from functionalscaffold_client.transport import Transport

#: Where the platform is, and the API key, when not given to ``Client``.
URL_ENV, API_KEY_ENV = "FUNCTIONALSCAFFOLD_URL", "FUNCTIONALSCAFFOLD_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8000"

T = TypeVar("T")


def configured_url(base_url: str | Sequence[str] | None) -> str | Sequence[str]:
    """``base_url``, else ``$FUNCTIONALSCAFFOLD_URL``, else the local dev stack's."""
    return base_url or os.environ.get(URL_ENV) or DEFAULT_URL


def configured_key(api_key: str | None) -> str | None:
    """``api_key``, else ``$FUNCTIONALSCAFFOLD_API_KEY`` (an explicit "" means none)."""
    return api_key if api_key is not None else os.environ.get(API_KEY_ENV)


class Client:
    """A connection to the platform: one pooled HTTP client, retries included (see ``_retry``).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000``; default ``$FUNCTIONALSCAFFOLD_URL`` or that. Several
            (a list, or comma-separated): web replicas, a retry going to the next.
        api_key: default ``$FUNCTIONALSCAFFOLD_API_KEY``; none when the API is open.
        timeout: seconds to wait for the answer to one request (waits add the time they ask for).
        invoke_timeout: seconds to wait for ``invoke``, which answers only once the algorithm is done.
        retry_seconds: how long retries (of 429, 503, lost connections) may go on for one call.
        http_client: an ``httpx.Client`` of your own (proxies, certificates); it is not closed.
    """

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        invoke_timeout: float = 600.0,
        retry_seconds: float = 60.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._http = Transport(
            configured_url(base_url),
            configured_key(api_key),
            timeout=timeout,
            retry_seconds=retry_seconds,
            http_client=http_client,
        )
        self.invoke_timeout = invoke_timeout

    @property
    def base_url(self) -> str:
        """The base URL that answered last (the first, before any answer)."""
        return self._http.base_url

    def _run(self, operation: Operation[T]) -> T:
        """Carry out an operation of ``_calls``: its requests through the transport, its pauses slept."""
        try:
            step = next(operation)
            while True:
                if isinstance(step, Pause):
                    time.sleep(step.seconds)
                    step = operation.send(None)
                else:
                    step = operation.send(self._http.json(step))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            operation.close()

    def invoke(self, algorithm: str, **params: Any) -> Invocation:
        """Run ``algorithm`` now with ``params``; raises ``AlgorithmError`` if it fails.

        Not sent again once it has reached the platform (it could run twice): a lost answer raises.
        """
        return self._run(_calls.invoke(algorithm, params, self.invoke_timeout))

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
        body = _calls.job_body(algorithm, params, webhook, timeout, retry, run_at, delay_seconds, priority)
        return self._run(_calls.submit(body, idempotency_key, wait, time.monotonic))

    def get(self, job_id: str) -> Job:
        """The job as it is now; ``JobNotFound`` if there is none (or it has expired)."""
        return self._run(_calls.get(job_id))

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
        return self._run(_calls.wait_for(job_id, timeout, on_progress, interval=interval))

    def events(self, job_id: str, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The job's live events (``GET /jobs/{id}/events``): first its state, then each change,
        ending with an ``end`` event once it has finished and its webhook has settled.

        A dropped connection (or a server closing the stream) is reopened with the last event's id,
        so nothing is missed or repeated; connection failures raise ``ConnectionFailed`` once
        ``retry_seconds`` has passed without an event.
        """
        following = Following(job_id, last_event_id, self._http.retry_seconds)
        while True:
            try:
                response = self._http.send(following.request(), stream=True)
                try:
                    parser = EventParser()
                    for line in response.iter_lines():
                        event = parser.feed(line)
                        if event is not None:
                            yield event
                            if following.seen(event):
                                return
                finally:
                    response.close()
            except (httpx.TransportError, ConnectionFailed) as exc:
                time.sleep(following.failed(exc, time.monotonic()))

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
        params: dict[str, Any] | None = _calls.list_params(status, algorithm, created_after, created_before, page_size)
        while params is not None:
            jobs, params = self._run(_calls.list_page(params))
            yield from jobs

    def cancel(self, job_id: str) -> Job:
        """Cancel a pending job, or ask a running one to stop; ``JobAlreadyFinished`` if it has ended.

        Not sent again once it has reached the platform: a retry of a cancel that worked would
        answer ``JobAlreadyFinished``.
        """
        return self._run(_calls.cancel(job_id))

    def redeliver_webhook(self, job_id: str) -> Job:
        """Send a finished job's webhook again. Not sent again after a lost answer (it would send twice)."""
        return self._run(_calls.redeliver_webhook(job_id))

    def submit_batch(
        self, jobs: builtins.list[dict[str, Any]], webhook: str | None = None, *, idempotency_key: str | None = None
    ) -> Batch:
        """Queue up to 1000 jobs at once (each a dict as ``job_body`` builds, or as POST /jobs takes);
        ``webhook`` hears once, when every job has ended. Retried safely (one Idempotency-Key)."""
        return self._run(_calls.submit_batch(jobs, webhook, idempotency_key))

    def get_batch(self, batch_id: str, *, limit: int = 20, cursor: str | None = None) -> Batch:
        """The batch's counts, and a page of its jobs (``limit``, from ``cursor``)."""
        return self._run(_calls.get_batch(batch_id, limit, cursor))

    def cancel_batch(self, batch_id: str) -> Batch:
        """Cancel the batch's jobs that have not started, stop those running. Safe to repeat."""
        return self._run(_calls.cancel_batch(batch_id))

    def algorithms(self) -> builtins.list[Algorithm]:
        """The algorithms the platform runs, each with its params as JSON Schema and an example."""
        return self._run(_calls.algorithms())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
