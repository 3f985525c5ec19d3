"""Reading an HTTP ``Retry-After`` header: seconds, or an HTTP date."""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone


def seconds_to_wait(value: str | None) -> float | None:
    """How many seconds ``Retry-After`` asks for; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
