"""Waiting out a Redis outage inside a worker, instead of failing the work in hand."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from app.domain.errors import StorageUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How long a step waits for Redis to come back before it gives up.
STORAGE_PATIENCE_SECONDS = 300.0


def patiently(step: Callable[..., T], *args: object, give_up: threading.Event | None = None) -> T:
    """Call ``step``, retrying while Redis does not answer (up to ``STORAGE_PATIENCE_SECONDS``, or
    until ``give_up`` is set: the worker is stopping), then raising ``StorageUnavailable``.

    Failing instead would lose the outcome in hand; giving up leaves the message leased, and it is
    delivered again once its lease runs out. The outage itself is logged by the storage layer.
    """
    deadline = time.monotonic() + STORAGE_PATIENCE_SECONDS
    delay = 0.2
    while True:
        try:
            return step(*args)
        except StorageUnavailable:
            if time.monotonic() + delay > deadline or (give_up is not None and give_up.is_set()):
                raise
            if give_up is not None:
                give_up.wait(delay)
            else:
                time.sleep(delay)
            delay = min(delay * 2, 5.0)
