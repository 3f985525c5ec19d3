"""Webhook rules as pure functions: payload, retry schedule, signatures, URL redaction, SSRF checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.domain.models import Job, JobStatus
from app.infra.config import Config, ConfigError
from app.services import destinations
from app.services.signing import Signer
from app.services.webhooks import Outcome, build_payload, next_delay, redact_url

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
DELAYS = (1.0, 5.0, 15.0)


def test_the_payload_has_the_reference_fields_and_the_event_type() -> None:
    job = Job(
        job_id="a1b2c3d4e5f6",
        status=JobStatus.COMPLETED,
        algorithm="PrimeChecker",
        params={"number": 17},
        created_at=0.0,
        expires_at=1.0,
        completed_at=1770026402.0,
        result={"number": 17, "is_prime": True},
        metadata={"elapsed_time": 0.001},
    )
    assert build_payload(job) == {
        "type": "job.completed",
        "job_id": "a1b2c3d4e5f6",
        "status": "completed",
        "algorithm": "PrimeChecker",
        "result": {"number": 17, "is_prime": True},
        "error": None,
        "metadata": {"elapsed_time": 0.001},
        "completed_at": "2026-02-02T10:00:02.000+00:00",
    }


@pytest.mark.parametrize(
    ("attempt", "outcome", "delay"),
    [
        (1, Outcome(status_code=500), 1.0),
        (2, Outcome(error="timeout"), 5.0),
        (3, Outcome(status_code=404), 15.0),
        (4, Outcome(status_code=500), None),  # the fourth attempt was the last
        (1, Outcome(status_code=204), None),  # delivered
        (1, Outcome(status_code=410), None),  # Gone: stop at once
        (1, Outcome(error="forbidden_address", retryable=False), None),
        (1, Outcome(status_code=429, retry_after=3.0), 3.0),  # waited out
        (2, Outcome(status_code=503, retry_after=2.0), 5.0),  # the schedule is longer already
        (1, Outcome(status_code=503, retry_after=3600.0), 15.0),  # bounded by the schedule's longest
        (1, Outcome(status_code=500, retry_after=3.0), 1.0),  # Retry-After counts on 429 and 503 only
    ],
)
def test_retry_schedule(attempt: int, outcome: Outcome, delay: float | None) -> None:
    assert next_delay(DELAYS, attempt, outcome) == delay


def _verify_as_the_readme_shows(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """The standard-library recipe of README, for receivers that want no dependency."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) < 300
    return fresh and any(
        hmac.compare_digest(expected, sig.split(",", 1)[1]) for sig in headers["webhook-signature"].split()
    )


def test_signatures_verify_with_both_recipes_and_fail_with_a_wrong_secret() -> None:
    body = '{"job_id":"a1b2c3d4e5f6"}'
    headers = Signer(SECRET).headers("msg_123", time.time(), body)
    assert headers["webhook-id"] == "msg_123"
    assert headers["webhook-signature"].startswith("v1,")
    assert StandardWebhook(SECRET).verify(body, headers) == {"job_id": "a1b2c3d4e5f6"}
    assert _verify_as_the_readme_shows(SECRET, body.encode(), headers)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(OTHER_SECRET).verify(body, headers)
    assert not _verify_as_the_readme_shows(OTHER_SECRET, body.encode(), headers)
    assert not _verify_as_the_readme_shows(SECRET, body.encode() + b" ", headers)


def test_during_rotation_both_secrets_sign() -> None:
    body = "{}"
    headers = Signer(OTHER_SECRET, previous=SECRET).headers("msg_1", time.time(), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OTHER_SECRET):
        StandardWebhook(secret).verify(body, headers)
        assert _verify_as_the_readme_shows(secret, body.encode(), headers)


@pytest.mark.parametrize(
    "secret", ["s3cret", "whsec_", "whsec_!!!notbase64", "whsec_" + base64.b64encode(b"x").decode()]
)
def test_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        Config(webhook_secret=secret).validate()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pass@hooks.example.com/cb?token=abc", "https://***@hooks.example.com/cb?***"),
        ("http://example.com:8080/a/b", "http://example.com:8080/a/b"),
        ("http://[::1]:9000/x?y=1#frag", "http://[::1]:9000/x?***"),
    ],
)
def test_urls_are_shown_without_credentials_or_query(url: str, shown: str) -> None:
    assert redact_url(url) == shown


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://0.0.0.0/",
        "http://[::ffff:127.0.0.1]/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::127.0.0.1]/",  # IPv4-compatible
        "http://[::ffff:0:127.0.0.1]/",  # IPv4-translated
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
        "http://[fec0::1]/",  # site-local
        "http://localhost:8000/x",
        "http://127.1/",
        "http://2130706433/",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
    ],
)
def test_internal_destinations_are_refused(url: str) -> None:
    with pytest.raises(destinations.ForbiddenDestination):
        destinations.resolve(url, allow_private=False, timeout=2)


def test_public_addresses_pass_and_private_ones_pass_when_allowed() -> None:
    public = destinations.resolve("https://93.184.215.14:8443/cb?x=1", allow_private=False, timeout=2)
    assert (public.address, public.port, public.target, public.host) == (
        "93.184.215.14",
        8443,
        "/cb?x=1",
        "93.184.215.14",
    )
    local = destinations.resolve("http://localhost:9/x", allow_private=True, timeout=2)
    assert local.address in ("127.0.0.1", "::1")
    assert local.host == "localhost"  # the Host header keeps the name; the connection uses the address


def test_an_unresolvable_host_is_reported_as_such() -> None:
    with pytest.raises(destinations.UnresolvableDestination):
        destinations.resolve("http://no-such-host.invalid/", allow_private=False, timeout=2)
