"""AsyncClient: FunctionalScaffold from asyncio code (FastAPI, aiohttp, ...).

    from functionalscaffold_client import AsyncClient

    async with AsyncClient("http://127.0.0.1:8000") as client:
        job = await client.submit("PrimeChecker", {"number": 561}, wait=30)

The same methods, arguments, results, errors and retry rules as ``Client``: both run the operations
of ``_calls`` and judge failures with ``_retry``; only the I/O awaits here.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx

from functionalscaffold_client import _calls
from functionalscaffold_client._calls import MAX_PAGE_SIZE, SERVER_WAIT_SECONDS, Operation, Pause
from functionalscaffold_client._events import EventParser, Following
from functionalscaffold_client.client import configured_key, configured_url
from functionalscaffold_client.errors import ConnectionFailed
from functionalscaffold_client.models import Algorithm, Batch, Invocation, Job, JobEvent
from functionalscaffold_client.transport import AsyncTransport

T = TypeVar("T")


class AsyncClient:
    """``Client`` for asyncio: the same arguments (``http_client`` an ``httpx.AsyncClient``); every
    method is a coroutine, ``list`` and ``events`` are async iterators. See ``Client`` for each method."""

    def __init__(
        self,
        base_url: str | Sequence[str] | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        invoke_timeout: float = 600.0,
        retry_seconds: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = AsyncTransport(
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

    async def _run(self, operation: Operation[T]) -> T:
        """Carry out an operation of ``_calls``: its requests awaited, its pauses slept without blocking."""
        try:
            step = next(operation)
            while True:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = operation.send(None)
                else:
                    step = operation.send(await self._http.json(step))
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            operation.close()

    async def invoke(self, algorithm: str, **params: Any) -> Invocation:
        """Run ``algorithm`` now with ``params`` (see ``Client.invoke``)."""
        return await self._run(_calls.invoke(algorithm, params, self.invoke_timeout))

    async def submit(
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
        """Queue a job; with ``wait``, return it finished if it ends in that many seconds (see ``Client.submit``)."""
        body = _calls.job_body(algorithm, params, webhook, timeout, retry, run_at, delay_seconds, priority)
        return await self._run(_calls.submit(body, idempotency_key, wait, time.monotonic))

    async def get(self, job_id: str) -> Job:
        """The job as it is now."""
        return await self._run(_calls.get(job_id))

    async def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[Job, float], None] | None = None,
        *,
        interval: float = SERVER_WAIT_SECONDS,
    ) -> Job:
        """The job once finished; ``WaitTimeout`` after ``timeout`` seconds (see ``Client.wait``).
        ``on_progress`` is a plain function, called after each answer."""
        return await self._run(_calls.wait_for(job_id, timeout, on_progress, interval=interval))

    async def events(self, job_id: str, last_event_id: str | None = None) -> AsyncIterator[JobEvent]:
        """The job's live events, reopened from the last one seen after a drop (see ``Client.events``)."""
        following = Following(job_id, last_event_id, self._http.retry_seconds)
        while True:
            try:
                response = await self._http.send(following.request(), stream=True)
                try:
                    parser = EventParser()
                    async for line in response.aiter_lines():
                        event = parser.feed(line)
                        if event is not None:
                            yield event
                            if following.seen(event):
                                return
                finally:
                    await response.aclose()
            except (httpx.TransportError, ConnectionFailed) as exc:
                await asyncio.sleep(following.failed(exc, time.monotonic()))

    async def list(
        self,
        *,
        status: str | None = None,
        algorithm: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[Job]:
        """Every job of this API key matching the filters, newest first, a page at a time."""
        params: dict[str, Any] | None = _calls.list_params(status, algorithm, created_after, created_before, page_size)
        while params is not None:
            jobs, params = await self._run(_calls.list_page(params))
            for job in jobs:
                yield job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a pending job, or ask a running one to stop (not retried once sent)."""
        return await self._run(_calls.cancel(job_id))

    async def redeliver_webhook(self, job_id: str) -> Job:
        """Send a finished job's webhook again (not retried once sent)."""
        return await self._run(_calls.redeliver_webhook(job_id))

    async def submit_batch(
        self, jobs: builtins.list[dict[str, Any]], webhook: str | None = None, *, idempotency_key: str | None = None
    ) -> Batch:
        """Queue up to 1000 jobs at once; retried safely (one Idempotency-Key)."""
        return await self._run(_calls.submit_batch(jobs, webhook, idempotency_key))

    async def get_batch(self, batch_id: str, *, limit: int = 20, cursor: str | None = None) -> Batch:
        """The batch's counts, and a page of its jobs."""
        return await self._run(_calls.get_batch(batch_id, limit, cursor))

    async def cancel_batch(self, batch_id: str) -> Batch:
        """Cancel the batch's jobs that have not started, stop those running. Safe to repeat."""
        return await self._run(_calls.cancel_batch(batch_id))

    async def algorithms(self) -> builtins.list[Algorithm]:
        """The algorithms the platform runs."""
        return await self._run(_calls.algorithms())

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()
