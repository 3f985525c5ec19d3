"""Waiting out a Redis outage inside a worker, instead of failing the work in hand."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from app.errors import StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a step waits for Redis to come back before it gives up.
STORAGE_PATIENCE_SECONDS = 300.0


def patiently(step: Callable[..., T], *args: object) -> T:
    """Call ``step``, retrying while Redis does not answer (up to ``STORAGE_PATIENCE_SECONDS``).

    Dramatiq's own retries would re-enqueue a message through the Redis that is down, and then ack
    it: the job would be lost. Waiting here keeps the message unacked, so a worker restart during
    the outage also runs it again.
    """
    deadline = time.monotonic() + STORAGE_PATIENCE_SECONDS
    delay = 0.2
    while True:
        try:
            return step(*args)
        except StorageUnavailable:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("Redis is not answering; retrying %s in %.1fs", getattr(step, "__name__", step), delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
