"""WebhookSender against real receivers on 127.0.0.1: what counts, what is sent, what is refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import WebhookReceiver

from app.infra.embedded_redis import free_port
from app.services.webhooks import Delivery
from workers.webhooks import USER_AGENT, WebhookSender

BODY = '{"job_id":"a1b2c3d4e5f6"}'
HEADERS = {
    "Content-Type": "application/json",
    "webhook-id": "msg_1",
    "webhook-timestamp": "1",
    "webhook-signature": "v1,abc",
}


def _delivery(url: str) -> Delivery:
    return Delivery("a1b2c3d4e5f6", 1, 1, url, BODY, HEADERS)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize(
    ("status", "delivered"), [(200, True), (204, True), (301, False), (404, False), (410, False), (500, False)]
)
def test_only_2xx_counts_as_delivered(receiver: WebhookReceiver, status: int, delivered: bool) -> None:
    receiver.statuses = [status]
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url()))
    assert (outcome.status_code, outcome.delivered) == (status, delivered)
    assert outcome.duration > 0


def test_the_body_and_headers_arrive_as_sent(receiver: WebhookReceiver) -> None:
    WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url("/cb?token=1")))
    [received] = receiver.received
    assert received.path == "/cb?token=1"
    assert received.body == BODY.encode()
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["User-Agent"] == USER_AGENT
    assert received.headers["Host"] == f"127.0.0.1:{receiver.url().split(':')[2].split('/')[0]}"
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert received.headers[name] == HEADERS[name]


def test_a_redirect_is_not_followed(receiver: WebhookReceiver) -> None:
    receiver.statuses = [302]
    receiver.headers = {"Location": receiver.url("/internal")}
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url()))
    assert outcome.status_code == 302 and not outcome.delivered
    assert receiver.for_path("/internal") == []


@pytest.mark.parametrize(("header", "seconds"), [("7", 7.0), ("0", 0.0), ("soon", None)])
def test_retry_after_is_read(receiver: WebhookReceiver, header: str, seconds: float | None) -> None:
    receiver.statuses = [429]
    receiver.headers = {"Retry-After": header}
    assert WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url())).retry_after == seconds


def test_a_closed_port_is_a_connection_refused_attempt() -> None:
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(f"http://127.0.0.1:{free_port()}/"))
    assert (outcome.delivered, outcome.error, outcome.retryable) == (False, "connection_refused", True)


def test_tls_to_a_plain_http_server_is_a_tls_error(receiver: WebhookReceiver) -> None:
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url().replace("http:", "https:")))
    assert outcome.error == "tls"


def test_an_unresolvable_host_is_a_dns_error() -> None:
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery("http://no-such-host.invalid/"))
    assert (outcome.error, outcome.retryable) == ("dns", True)


def test_private_addresses_are_refused_at_send_time(receiver: WebhookReceiver) -> None:
    for url in (receiver.url(), receiver.url().replace("127.0.0.1", "localhost")):
        outcome = WebhookSender(10, allow_private_networks=False).send(_delivery(url))
        assert (outcome.error, outcome.retryable) == ("forbidden_address", False)
    assert receiver.received == []


@pytest.mark.slow
def test_a_hanging_receiver_is_abandoned_at_10_seconds(receiver: WebhookReceiver) -> None:
    receiver.hang_seconds = 60
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url()))
    assert outcome.error == "timeout"
    assert 9.9 <= outcome.duration < 10.5


def test_a_receiver_answering_a_byte_at_a_time_is_cut_at_the_deadline(receiver: WebhookReceiver) -> None:
    receiver.drip_seconds = 0.1  # each read is quick; only a total deadline stops this
    outcome = WebhookSender(1.0, allow_private_networks=True).send(_delivery(receiver.url()))
    assert outcome.error == "timeout"
    assert 0.95 <= outcome.duration < 1.5


def test_a_url_that_cannot_go_on_the_wire_is_not_retried(receiver: WebhookReceiver) -> None:
    outcome = WebhookSender(10, allow_private_networks=True).send(_delivery(receiver.url("/café")))
    assert (outcome.error, outcome.retryable) == ("invalid_url", False)
