"""Checking, in a receiver written in Python, that a webhook really comes from the platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _Invalid

from app.client.errors import WebhookVerificationError


def verify_webhook(secret: str, body: bytes | str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The webhook's payload, if its signature is the platform's and its timestamp is fresh (5 min).

    Args:
        secret: the platform's signing secret (``whsec_...``; ``functionalscaffold webhook-secret``).
        body: the request body exactly as received (bytes, before any JSON parsing).
        headers: the request headers (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``).

    Raises:
        WebhookVerificationError: anything does not check out; do not act on the body then.
    """
    try:
        return Webhook(secret).verify(body, dict(headers))
    except (_Invalid, ValueError) as exc:
        raise WebhookVerificationError(str(exc)) from None
