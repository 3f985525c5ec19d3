"""The retry rules, stated once for ``Client`` and ``AsyncClient``: which failures may be tried again,
how long to wait first, and which base URL the next attempt goes to. No I/O here.

Retried, with exponential backoff and full jitter, never sooner than ``Retry-After``:

- 429 and 503 answers: the platform did not carry the request out;
- a connection that could not be opened: the request was never sent;
- for ``idempotent`` requests only (reads, and submissions carrying an ``Idempotency-Key``), also a
  connection lost or a timeout after sending, and a gateway's 502 or 504: the request may have
  been carried out, so only a request that does the same thing twice may go again.

Everything else is raised at once. Retries stop when the next wait would pass ``retry_seconds``.

Several base URLs (web replicas without a load balancer in front): each request goes first to the
one that answered last, and each retry of it to the next in turn, so a host that is down costs a
request one retry, not the whole budget.
"""

from __future__ import annotations

import random
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from functionalscaffold_client.errors import ClientError
from functionalscaffold_client.retry_after import seconds_to_wait

#: Answers that mean "not now": the request was not carried out, so trying again is always safe.
NOT_NOW = (429, 503)
#: A gateway's "the platform did not answer (in time)": it may have acted, so idempotent requests only.
GATEWAY_FAILURES = (502, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """How long one call may go on retrying, and the backoff between its attempts."""

    retry_seconds: float = 60.0
    backoff_base: float = 0.25
    backoff_max: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere from 0 to the capped exponential step, so clients spread out."""
        return random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))


class Endpoints:
    """The base URLs, checked up front, and which one answered last (where the next call starts)."""

    def __init__(self, base_url: str | Sequence[str]) -> None:
        urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
        for url in urls:
            parts = urllib.parse.urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ClientError(f"{url!r} is not a URL such as http://127.0.0.1:8000")
        self.urls = [url.strip().rstrip("/") for url in urls]
        self.preferred = 0

    @property
    def base_url(self) -> str:
        return self.urls[self.preferred]


class Attempts:
    """One call's way through its retries: where each attempt goes, and whether, after a failure,
    to wait (and how long) or to give up. The transports only send and sleep as this says."""

    def __init__(self, endpoints: Endpoints, policy: RetryPolicy, *, idempotent: bool, now: float) -> None:
        self._endpoints = endpoints
        self._policy = policy
        self._idempotent = idempotent
        self._deadline = now + policy.retry_seconds
        self._first = endpoints.preferred
        self.number = 0

    @property
    def base_url(self) -> str:
        """The base URL of the current attempt."""
        return self._endpoints.urls[self._index]

    @property
    def _index(self) -> int:
        return (self._first + self.number) % len(self._endpoints.urls)

    def answered(self, status: int, retry_after_header: str | None, now: float) -> tuple[float | None, float | None]:
        """After an error answer: (seconds to wait before the next attempt, or None to raise; the
        ``Retry-After`` it asked for, for the exception)."""
        self.succeeded()
        retry_after = seconds_to_wait(retry_after_header)
        delay = max(self._policy.backoff(self.number), retry_after or 0.0)
        retryable = status in NOT_NOW or (self._idempotent and status in GATEWAY_FAILURES)
        if not retryable or now + delay > self._deadline:
            return None, retry_after
        self.number += 1
        return delay, retry_after

    def succeeded(self) -> None:
        """It answered: later calls start at this base URL."""
        self._endpoints.preferred = self._index

    def failed(self, error: httpx.TransportError, now: float) -> float | None:
        """After no answer: seconds to wait before the next attempt, or None to raise."""
        delay = self._policy.backoff(self.number)
        if not (self._idempotent or never_sent(error)) or now + delay > self._deadline:
            return None
        self.number += 1
        return delay


def never_sent(error: httpx.TransportError) -> bool:
    """Whether the connection failed before the request went out (so the platform never saw it)."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))


def reason(error: httpx.TransportError) -> str:
    """The cause in a few words ("Connection refused"), not the nested reprs of the layers below."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    return found.group(1).strip() if found else (str(error) or type(error).__name__)
