"""Transport: HTTP to the platform over one pooled session, retrying what is safe to retry.

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
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from app import __version__
from app.client.errors import ClientError, ConnectionFailed, UnexpectedResponse, error_from_response
from app.retry_after import seconds_to_wait

#: Answers that mean "not now": the request was not carried out, so trying again is always safe.
NOT_NOW = (429, 503)
#: A gateway's "the platform did not answer (in time)": it may have acted, so idempotent requests only.
GATEWAY_FAILURES = (502, 504)


class Transport:
    def __init__(
        self,
        base_url: str | Sequence[str],
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        retry_seconds: float = 60.0,
        backoff_base: float = 0.25,
        backoff_max: float = 10.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        urls = base_url.split(",") if isinstance(base_url, str) else list(base_url)
        for url in urls:
            parts = urllib.parse.urlsplit(url.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ClientError(f"{url!r} is not a URL such as http://127.0.0.1:8000")
        #: Every base URL, tried in turn; ``base_url`` is the one that answered last.
        self.base_urls = [url.strip().rstrip("/") for url in urls]
        self._preferred = 0
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._clock = clock
        self.session = session or requests.Session()
        self._headers = {"User-Agent": f"FunctionalScaffold-Client/{__version__}"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    @property
    def base_url(self) -> str:
        return self.base_urls[self._preferred]

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = False,
        read_timeout: float | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send the request, retrying as the module says; raises the ``ApiError`` of an error answer.
        With ``stream``, the body is read as it comes (``Response.iter_lines``)."""
        deadline = self._clock() + self.retry_seconds
        attempt, first = 0, self._preferred
        while True:
            index = (first + attempt) % len(self.base_urls)
            base_url = self.base_urls[index]
            try:
                response = self.session.request(
                    method,
                    base_url + path,
                    json=json,
                    params=params,
                    headers={**self._headers, **(headers or {})},
                    timeout=(min(self.timeout, 10.0), read_timeout or self.timeout),
                    stream=stream,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                delay = self._backoff(attempt)
                if not (idempotent or _never_sent(exc)) or self._clock() + delay > deadline:
                    raise ConnectionFailed(f"cannot reach {base_url} ({_reason(exc)})") from exc
            except requests.RequestException as exc:  # a malformed URL or header: nothing to retry
                raise ClientError(str(exc)) from exc
            else:
                self._preferred = index  # it answered: the next request starts there
                if response.status_code < 400:
                    return response
                retry_after = seconds_to_wait(response.headers.get("Retry-After"))
                delay = max(self._backoff(attempt), retry_after or 0.0)
                retryable = response.status_code in NOT_NOW or (idempotent and response.status_code in GATEWAY_FAILURES)
                if not retryable or self._clock() + delay > deadline:
                    raise error_from_response(response, retry_after)
            self._sleep(delay)
            attempt += 1

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """``request``, then the answer's JSON body; ``UnexpectedResponse`` when it has none."""
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            raise UnexpectedResponse(
                f"{self.base_url}{path} answered {response.status_code} with {kind}, not JSON: is it the platform?"
            ) from None

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self._backoff_max, self._backoff_base * 2**attempt))

    def close(self) -> None:
        self.session.close()


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the connection failed before the request went out (so the platform never saw it)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _reason(exc: requests.RequestException) -> str:
    """The cause in a few words ("Connection refused"), not urllib3's nested reprs."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return found.group(1).strip() if found else type(exc).__name__
