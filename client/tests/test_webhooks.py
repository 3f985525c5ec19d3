"""``verify_webhook`` against signatures made as the Standard Webhooks specification says."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from functionalscaffold_client import WebhookVerificationError, verify_webhook

KEY = b"0123456789abcdef0123456789abcdef"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_800_000_000


def _signed(body: bytes, at: int = NOW, **headers: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(KEY, f"msg_1.{at}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(at), "Webhook-Signature": f"v1,{signature}", **headers}


def test_a_signed_body_gives_its_payload_whatever_the_headers_case() -> None:
    body = json.dumps({"job_id": "a1", "status": "completed"}).encode()

    assert verify_webhook(SECRET, body, _signed(body), now=NOW + 10) == {"job_id": "a1", "status": "completed"}


@pytest.mark.parametrize(
    ("body", "headers", "now"),
    [
        (b'{"status": "failed"}', _signed(b'{"status": "completed"}'), NOW),  # tampered
        (b"{}", _signed(b"{}"), NOW + 301),  # stale
        (b"{}", _signed(b"{}"), NOW - 301),  # from the future
        (b"{}", {"webhook-id": "msg_1"}, NOW),  # unsigned
    ],
)
def test_anything_that_does_not_check_out_is_refused(body: bytes, headers: dict[str, str], now: int) -> None:
    with pytest.raises(WebhookVerificationError):
        verify_webhook(SECRET, body, headers, now=now)
