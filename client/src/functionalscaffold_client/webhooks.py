"""Checking, in a receiver written in Python, that a webhook really comes from the platform.

The platform signs as the Standard Webhooks specification says (HMAC-SHA256 of
``{webhook-id}.{webhook-timestamp}.{body}`` with the base64 secret after ``whsec_``). The check is
a dozen lines of the standard library, so the client needs no webhook package (and its dependencies)
and works with any framework: give it the raw body and the headers as a mapping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from functionalscaffold_client.errors import WebhookVerificationError

#: How far a webhook's timestamp may be from now, either way, before it is refused as a replay.
TOLERANCE_SECONDS = 5 * 60


def verify_webhook(
    secret: str, body: bytes | str, headers: Mapping[str, str], *, now: float | None = None
) -> dict[str, Any]:
    """The webhook's payload, if its signature is the platform's and its timestamp is fresh (5 min).

    Args:
        secret: the platform's signing secret (``whsec_...``; ``functionalscaffold webhook-secret``).
        body: the request body exactly as received (bytes, before any JSON parsing).
        headers: the request headers, any mapping (a dict, or Flask's, Starlette's, Django's or
            aiohttp's headers): ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``, in any case.
        now: the time to check freshness against (seconds since the epoch); default now.

    Raises:
        WebhookVerificationError: anything does not check out; do not act on the body then.
    """
    found = {name.lower(): value for name, value in headers.items()}
    try:
        message_id, timestamp, signatures = (found[f"webhook-{n}"] for n in ("id", "timestamp", "signature"))
    except KeyError:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header") from None
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - sent_at) > TOLERANCE_SECONDS:
        raise WebhookVerificationError("webhook-timestamp is too old or too new")
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not a whsec_ base64 secret") from None
    raw = body.encode() if isinstance(body, str) else body
    expected = hmac.new(key, f"{message_id}.{sent_at}.".encode() + raw, hashlib.sha256).digest()
    for signature in signatures.split():
        version, _, value = signature.partition(",")
        try:
            given = base64.b64decode(value)
        except (binascii.Error, ValueError):
            continue
        if version == "v1" and hmac.compare_digest(given, expected):
            payload: dict[str, Any] = json.loads(raw)
            return payload
    raise WebhookVerificationError("no signature matches")
