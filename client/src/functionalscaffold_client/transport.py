"""HTTP to the platform over one pooled httpx client, retrying what ``_retry`` says is safe.

``Transport`` (blocking) and ``AsyncTransport`` differ only in ``await``: the request is built by
the same code, each failure is judged by the same ``Attempts``, each error answer becomes the same
exception. Clock and sleep are injectable so tests can check backoff and budgets without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from functionalscaffold_client._calls import Request
from functionalscaffold_client._retry import Attempts, Endpoints, RetryPolicy, reason
from functionalscaffold_client._version import __version__
from functionalscaffold_client.errors import ClientError, ConnectionFailed, UnexpectedResponse, error_from_answer

#: Longest wait for a connection to open, whatever the timeout (a host that is down costs no more).
CONNECT_TIMEOUT_SECONDS = 10.0


class _Base:
    """What both transports hold: where the platform is, the retry policy, and the request headers."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        api_key: str | None,
        timeout: float,
        policy: RetryPolicy,
        clock: Callable[[], float],
    ) -> None:
        self._endpoints = Endpoints(base_url)
        self.timeout = timeout
        self.policy = policy
        self._clock = clock
        self._headers = {"User-Agent": f"FunctionalScaffold-Client/{__version__}"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    @property
    def base_urls(self) -> list[str]:
        """Every base URL, tried in turn."""
        return self._endpoints.urls

    @property
    def base_url(self) -> str:
        """The base URL that answered last (the first, before any answer)."""
        return self._endpoints.base_url

    @property
    def retry_seconds(self) -> float:
        return self.policy.retry_seconds

    def _attempts(self, request: Request) -> Attempts:
        return Attempts(self._endpoints, self.policy, idempotent=request.idempotent, now=self._clock())

    def _build(self, http: httpx.Client | httpx.AsyncClient, base_url: str, request: Request) -> httpx.Request:
        read = request.read_timeout if request.read_timeout is not None else self.timeout + request.held_seconds
        return http.build_request(
            request.method,
            base_url + request.path,
            json=request.json,
            params=request.params,
            headers={**self._headers, **request.headers},
            timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT_SECONDS), read=read),
        )

    def _give_up(self, base_url: str, error: httpx.TransportError) -> ConnectionFailed:
        return ConnectionFailed(f"cannot reach {base_url} ({reason(error)})")

    def _json(self, response: httpx.Response, request: Request) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise UnexpectedResponse(
                f"{self.base_url}{request.path} answered {response.status_code} with {kind}, not JSON: "
                "is it the platform?"
            ) from None


class Transport(_Base):
    """Blocking requests with the retry rules of ``_retry``.

    Args:
        base_url: one URL, several (a list, or comma-separated): web replicas tried in turn.
        api_key: sent as ``Authorization: Bearer``; none when the API is open.
        timeout: seconds for one answer (long polls add the time they ask the server to hold them).
        retry_seconds: how long retries may go on for one call.
        http_client: an ``httpx.Client`` of the caller's (proxies, certificates); left open on ``close``.
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 60.0,
        backoff_base: float = 0.25,
        backoff_max: float = 10.0,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(base_url, api_key, timeout, RetryPolicy(retry_seconds, backoff_base, backoff_max), clock)
        self._owned = http_client is None
        self.http = http_client or httpx.Client()
        self._sleep = sleep

    def send(self, request: Request, *, stream: bool = False) -> httpx.Response:
        """The answer to ``request`` once it is not an error (raised as its ``ApiError``), after retries.
        With ``stream``, the body is left unread: iterate it, then close the response."""
        attempts = self._attempts(request)
        while True:
            base_url = attempts.base_url
            try:
                response = self.http.send(self._build(self.http, base_url, request), stream=stream)
            except httpx.TransportError as exc:
                delay = attempts.failed(exc, self._clock())
                if delay is None:
                    raise self._give_up(base_url, exc) from exc
            except httpx.HTTPError as exc:  # a malformed URL or header: nothing to retry
                raise ClientError(str(exc)) from exc
            else:
                if response.status_code < 400:
                    attempts.succeeded()
                    return response
                body = response.read()
                response.close()
                delay, retry_after = attempts.answered(
                    response.status_code, response.headers.get("Retry-After"), self._clock()
                )
                if delay is None:
                    raise error_from_answer(
                        response.status_code, response.reason_phrase, response.headers, body, retry_after
                    )
            self._sleep(delay)

    def json(self, request: Request) -> Any:
        """``send``, then the answer's JSON body; ``UnexpectedResponse`` when it has none."""
        return self._json(self.send(request), request)

    def close(self) -> None:
        if self._owned:
            self.http.close()


async def _asyncio_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncTransport(_Base):
    """``Transport`` for asyncio: the same arguments, ``http_client`` an ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 60.0,
        backoff_base: float = 0.25,
        backoff_max: float = 10.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asyncio_sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(base_url, api_key, timeout, RetryPolicy(retry_seconds, backoff_base, backoff_max), clock)
        self._owned = http_client is None
        self.http = http_client or httpx.AsyncClient()
        self._sleep = sleep

    async def send(self, request: Request, *, stream: bool = False) -> httpx.Response:
        """As ``Transport.send``."""
        attempts = self._attempts(request)
        while True:
            base_url = attempts.base_url
            try:
                response = await self.http.send(self._build(self.http, base_url, request), stream=stream)
            except httpx.TransportError as exc:
                delay = attempts.failed(exc, self._clock())
                if delay is None:
                    raise self._give_up(base_url, exc) from exc
            except httpx.HTTPError as exc:
                raise ClientError(str(exc)) from exc
            else:
                if response.status_code < 400:
                    attempts.succeeded()
                    return response
                body = await response.aread()
                await response.aclose()
                delay, retry_after = attempts.answered(
                    response.status_code, response.headers.get("Retry-After"), self._clock()
                )
                if delay is None:
                    raise error_from_answer(
                        response.status_code, response.reason_phrase, response.headers, body, retry_after
                    )
            await self._sleep(delay)

    async def json(self, request: Request) -> Any:
        """As ``Transport.json``."""
        return self._json(await self.send(request), request)

    async def close(self) -> None:
        if self._owned:
            await self.http.aclose()
