"""Signs webhook deliveries the Standard Webhooks way (standardwebhooks.com).

Each delivery carries ``webhook-id`` (the event's id, the same on every attempt),
``webhook-timestamp`` (Unix seconds of the attempt) and ``webhook-signature``: ``v1,<base64
HMAC-SHA256 of "id.timestamp.body">``, one per secret in use, space-separated, so a receiver can
move to a new secret while the previous one is still configured.
"""

from __future__ import annotations

from datetime import datetime, timezone

from standardwebhooks import Webhook as StandardWebhook


class Signer:
    """Signs with the current secret, and with the previous one while it is set."""

    def __init__(self, secret: str, previous: str | None = None) -> None:
        self._signers = [StandardWebhook(s) for s in (secret, previous) if s]

    def headers(self, webhook_id: str, timestamp: float, body: str) -> dict[str, str]:
        at = datetime.fromtimestamp(int(timestamp), timezone.utc)
        signatures = " ".join(s.sign(msg_id=webhook_id, timestamp=at, data=body) for s in self._signers)
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(timestamp)),
            "webhook-signature": signatures,
        }
