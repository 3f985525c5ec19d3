"""The client's retry rules (``Transport``, ``AsyncTransport``), against a real HTTP server answering on cue.

Time is faked (the transport's ``sleep`` and ``clock``) so backoff and budgets are checked exactly
and at once; the requests themselves are real.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterator

import httpx
import pytest
from flaky_proxy import DROP, HANG, FlakyProxy, answer
from functionalscaffold_client import (
    ApiError,
    ClientError,
    ConnectionFailed,
    InternalError,
    JobAlreadyFinished,
    JobNotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    ValidationError,
)
from functionalscaffold_client._calls import Request
from functionalscaffold_client.transport import AsyncTransport, Transport

from app.infra.embedded_redis import free_port


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def proxy() -> Iterator[FlakyProxy]:
    proxy = FlakyProxy().start()
    yield proxy
    proxy.stop()


#: Transports a test made, closed after it (an httpx pool left open warns, and warnings fail tests).
_OPENED: list[Transport] = []


@pytest.fixture(autouse=True)
def _close_transports() -> Iterator[None]:
    yield
    while _OPENED:
        _OPENED.pop().close()


def _transport(url: str, fake_time: FakeTime, retry_seconds: float = 60.0, timeout: float = 5.0) -> Transport:
    transport = Transport(
        url, retry_seconds=retry_seconds, sleep=fake_time.sleep, clock=fake_time.clock, timeout=timeout
    )
    _OPENED.append(transport)
    return transport


def test_503s_are_retried_with_growing_jittered_backoff_until_the_budget_is_spent(proxy, fake_time) -> None:
    proxy.script, proxy.repeat_last = [answer(503)], True
    transport = _transport(proxy.url, fake_time, retry_seconds=20)

    with pytest.raises(ServiceUnavailable) as raised:
        transport.send(Request("GET", "/jobs/x"))

    assert len(proxy.seen) == len(fake_time.sleeps) + 1
    for attempt, slept in enumerate(fake_time.sleeps):
        assert 0 <= slept <= min(10.0, 0.25 * 2**attempt)
    assert sum(fake_time.sleeps) <= 20
    assert len(fake_time.sleeps) >= 5  # 20 s of budget holds several backoffs capped at 10 s
    assert len(set(fake_time.sleeps)) == len(fake_time.sleeps)  # jittered, not a fixed schedule
    assert raised.value.status == 503 and raised.value.request_id == "proxy"


def test_retry_after_is_honoured_and_a_400_is_not_retried(proxy, fake_time) -> None:
    proxy.script = [answer(429, retry_after="3"), answer(503, retry_after="2"), answer(400)]

    with pytest.raises(ValidationError):
        _transport(proxy.url, fake_time).send(Request("POST", "/jobs", json={}))

    assert len(fake_time.sleeps) == 2
    assert fake_time.sleeps[0] >= 3 and fake_time.sleeps[1] >= 2
    assert len(proxy.seen) == 3


def test_a_retry_after_beyond_the_budget_is_raised_at_once_with_its_delay(proxy, fake_time) -> None:
    proxy.script = [answer(429, retry_after="30")]

    with pytest.raises(RateLimited) as raised:
        _transport(proxy.url, fake_time, retry_seconds=10).send(Request("GET", "/jobs"))

    assert raised.value.retry_after == 30
    assert fake_time.sleeps == [] and len(proxy.seen) == 1


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, ValidationError), (401, Unauthorized), (404, JobNotFound), (409, JobAlreadyFinished), (500, InternalError)],
)
def test_other_errors_are_raised_at_once_as_their_class(proxy, fake_time, status: int, error: type[ApiError]) -> None:
    proxy.script = [answer(status)]

    with pytest.raises(error) as raised:
        _transport(proxy.url, fake_time).send(Request("POST", "/jobs", json={}))

    assert raised.value.status == status
    assert fake_time.sleeps == [] and len(proxy.seen) == 1


def test_dropped_connections_are_retried_for_idempotent_requests(proxy, fake_time) -> None:
    proxy.script = [DROP, DROP, answer(404)]

    with pytest.raises(JobNotFound):
        _transport(proxy.url, fake_time).send(Request("GET", "/jobs/x", idempotent=True))

    assert len(proxy.seen) == 3 and len(fake_time.sleeps) == 2


def test_a_request_that_must_not_run_twice_is_not_retried_after_a_dropped_connection(proxy, fake_time) -> None:
    proxy.script = [DROP]

    with pytest.raises(ConnectionFailed):
        _transport(proxy.url, fake_time).send(Request("POST", "/jobs/x/webhook/redeliver"))

    assert len(proxy.seen) == 1 and fake_time.sleeps == []


def test_an_unreachable_platform_fails_with_a_short_reason(fake_time) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    with pytest.raises(ConnectionFailed) as raised:
        _transport(url, fake_time, retry_seconds=5).send(Request("GET", "/healthz"))

    assert str(raised.value) == f"cannot reach {url} (Connection refused)"
    assert 0 < sum(fake_time.sleeps) <= 5


def test_requests_share_one_pooled_connection(proxy, fake_time) -> None:
    proxy.script = [answer(404)] * 3
    transport = _transport(proxy.url, fake_time)

    for _ in range(3):
        with pytest.raises(JobNotFound):
            transport.send(Request("GET", "/jobs/x"))

    assert len({seen.client_port for seen in proxy.seen}) == 1


def test_retry_after_as_an_http_date_is_honoured(proxy, fake_time) -> None:
    proxy.script = [answer(503, retry_after=email.utils.formatdate(time.time() + 3, usegmt=True)), answer(404)]

    with pytest.raises(JobNotFound):
        _transport(proxy.url, fake_time).send(Request("GET", "/jobs/x"))

    assert len(fake_time.sleeps) == 1 and 1.5 <= fake_time.sleeps[0] <= 3.5  # whole seconds in the date


GATEWAY_PAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


def test_a_gateways_502_is_retried_only_for_idempotent_requests(proxy, fake_time) -> None:
    proxy.script = [answer(502, body=GATEWAY_PAGE), answer(404)]
    with pytest.raises(JobNotFound):
        _transport(proxy.url, fake_time).send(Request("GET", "/jobs/x", idempotent=True))
    assert len(proxy.seen) == 2

    proxy.script = [answer(502, body=GATEWAY_PAGE)]
    with pytest.raises(ApiError) as raised:
        _transport(proxy.url, fake_time).send(Request("POST", "/invoke", json={}))
    assert (raised.value.status, raised.value.code) == (502, "HTTP_502")
    assert len(proxy.seen) == 3


def test_a_read_timeout_is_retried_only_for_idempotent_requests(proxy, fake_time) -> None:
    proxy.script, proxy.hang_seconds = [HANG, answer(404)], 1.0
    with pytest.raises(JobNotFound):
        _transport(proxy.url, fake_time, timeout=0.2).send(Request("GET", "/jobs/x", idempotent=True))
    assert len(proxy.seen) == 2

    proxy.script = [HANG]
    with pytest.raises(ConnectionFailed, match="no answer in time"):
        _transport(proxy.url, fake_time, timeout=0.2).send(Request("POST", "/invoke", json={}))
    assert len(proxy.seen) == 3


def test_a_request_never_sent_is_retried_whatever_its_method(fake_time) -> None:
    with pytest.raises(ConnectionFailed):
        _transport(f"http://127.0.0.1:{free_port()}", fake_time, retry_seconds=5).send(
            Request("POST", "/invoke", json={})
        )

    assert len(fake_time.sleeps) >= 2


def test_an_answer_that_is_not_json_is_reported_as_unexpected(proxy, fake_time) -> None:
    proxy.script = [answer(200, body=b"<html>a captive portal</html>")]

    with pytest.raises(UnexpectedResponse, match="text/html, not JSON"):
        _transport(proxy.url, fake_time).json(Request("GET", "/jobs/x"))


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1", "http://"])
def test_a_malformed_base_url_is_refused_up_front(url: str) -> None:
    with pytest.raises(ClientError, match="is not a URL"):
        Transport(url)


def test_the_callers_session_is_left_as_it_was(proxy, fake_time) -> None:
    session = httpx.Client()
    proxy.script = [answer(404)]
    transport = Transport(proxy.url, "secret-key", http_client=session, sleep=fake_time.sleep, clock=fake_time.clock)
    _OPENED.append(transport)

    with pytest.raises(JobNotFound):
        transport.send(Request("GET", "/jobs/x"))

    assert proxy.seen[0].headers["Authorization"] == "Bearer secret-key"
    assert "Authorization" not in session.headers
    transport.close()
    assert not session.is_closed  # the caller's, to close
    session.close()


def test_with_several_urls_a_retry_goes_to_the_next_and_later_requests_start_there(proxy, fake_time) -> None:
    """Web replicas without a load balancer: a host that is down costs one retry, then none."""
    down = f"http://127.0.0.1:{free_port()}"
    proxy.script = [answer(404)] * 3
    transport = Transport([down, proxy.url], sleep=fake_time.sleep, clock=fake_time.clock)
    _OPENED.append(transport)

    with pytest.raises(JobNotFound):  # never sent to the first, so even a POST goes to the next
        transport.send(Request("POST", "/invoke", json={}))
    assert (len(proxy.seen), len(fake_time.sleeps), transport.base_url) == (1, 1, proxy.url)

    for _ in range(2):
        with pytest.raises(JobNotFound):
            transport.send(Request("GET", "/jobs/x"))
    assert len(proxy.seen) == 3 and len(fake_time.sleeps) == 1  # straight to the one that answers


def test_a_replica_answering_503_sends_the_retry_to_the_other(fake_time) -> None:
    unavailable, healthy = FlakyProxy().start(), FlakyProxy().start()
    try:
        unavailable.script, unavailable.repeat_last = [answer(503)], True
        healthy.script = [answer(404)]
        transport = Transport(f"{unavailable.url},{healthy.url}", sleep=fake_time.sleep, clock=fake_time.clock)
        _OPENED.append(transport)

        with pytest.raises(JobNotFound):
            transport.send(Request("GET", "/jobs/x"))

        assert (len(unavailable.seen), len(healthy.seen), transport.base_url) == (1, 1, healthy.url)
    finally:
        unavailable.stop()
        healthy.stop()


def test_every_one_of_several_urls_is_checked_up_front() -> None:
    with pytest.raises(ClientError, match="'ftp://b' is not a URL"):
        Transport(["http://a:8000", "ftp://b"])


class AsyncFakeTime(FakeTime):
    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


def _async_transport(url: str, fake_time: AsyncFakeTime, **options: float) -> AsyncTransport:
    return AsyncTransport(url, sleep=fake_time.async_sleep, clock=fake_time.clock, **options)


async def _send(transport: AsyncTransport, request: Request) -> None:
    try:
        await transport.send(request)
    finally:
        await transport.close()


@pytest.mark.anyio
async def test_the_async_transport_retries_by_the_same_rules(proxy) -> None:
    """Same backoff bounds, Retry-After and budget as the blocking one: both ask ``Attempts``."""
    fake_time = AsyncFakeTime()
    proxy.script = [answer(429, retry_after="3"), answer(503), answer(404)]
    with pytest.raises(JobNotFound):
        await _send(_async_transport(proxy.url, fake_time), Request("GET", "/jobs/x"))
    assert len(proxy.seen) == 3 and fake_time.sleeps[0] >= 3 and fake_time.sleeps[1] <= 0.5

    proxy.script, proxy.repeat_last = [answer(429, retry_after="30")], True
    with pytest.raises(RateLimited) as raised:
        await _send(_async_transport(proxy.url, fake_time, retry_seconds=10), Request("GET", "/jobs"))
    assert raised.value.retry_after == 30 and len(proxy.seen) == 4


@pytest.mark.anyio
async def test_the_async_transport_retries_only_what_is_safe_and_fails_over(proxy) -> None:
    fake_time = AsyncFakeTime()
    proxy.script = [DROP]
    with pytest.raises(ConnectionFailed):
        await _send(_async_transport(proxy.url, fake_time), Request("POST", "/jobs/x/webhook/redeliver"))
    assert len(proxy.seen) == 1 and fake_time.sleeps == []

    down = f"http://127.0.0.1:{free_port()}"
    proxy.script = [answer(404)]
    transport = AsyncTransport([down, proxy.url], sleep=fake_time.async_sleep, clock=fake_time.clock)
    with pytest.raises(JobNotFound):  # never sent to the first, so even a POST goes to the next
        await _send(transport, Request("POST", "/invoke", json={}))
    assert (len(proxy.seen), transport.base_url) == (2, proxy.url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
