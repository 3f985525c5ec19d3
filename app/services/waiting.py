"""Waiter: lets requests wait for a job to finish without polling Redis and without a connection each.

One listener thread per process holds the only pub/sub connection and wakes the requests waiting
for a job when its script announces that it finished. At most ``max_waiters`` requests of a process
wait at once; the next ones are answered at once, so waiting can never take every web thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from app.storage.notifications import FinishedJobsChannel

log = logging.getLogger(__name__)

#: Longest wait a request may ask for, in seconds.
MAX_WAIT_SECONDS = 60.0


class Waiter:
    def __init__(self, channel: FinishedJobsChannel, max_waiters: int) -> None:
        self._channel = channel
        self.max_waiters = max_waiters
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = defaultdict(set)
        self._waiting = 0
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()
        self._released = threading.Event()

    @property
    def waiting(self) -> int:
        return self._waiting

    def wait(self, job_id: str, seconds: float, finished: Callable[[], bool]) -> bool:
        """Wait until ``finished()`` (checked when the job is announced) or ``seconds`` pass.

        Returns False at once when too many requests wait already.
        """
        event = threading.Event()
        with self._lock:
            if self._waiting >= self.max_waiters or self._released.is_set():
                return False
            self._waiting += 1
            self._events[job_id].add(event)
        self._ensure_listener()
        deadline = time.monotonic() + min(seconds, MAX_WAIT_SECONDS)
        try:
            while not finished():  # also closes the race with an announcement made before we listened
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not event.wait(remaining) or self._released.is_set():
                    break
                event.clear()
        finally:
            with self._lock:
                self._waiting -= 1
                self._events[job_id].discard(event)
                if not self._events[job_id]:
                    del self._events[job_id]
        return True

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(
                target=self._channel.listen,
                args=(self._wake, self._wake_all, self._stop),
                name="job-announcements",
                daemon=True,
            )
            self._listener.start()

    def _wake(self, job_id: str) -> None:
        with self._lock:
            events = list(self._events.get(job_id, ()))
        for event in events:
            event.set()

    def _wake_all(self) -> None:
        with self._lock:
            events = [e for waiting in self._events.values() for e in waiting]
        for event in events:
            event.set()

    def release_all(self) -> None:
        """The process is stopping: every wait ends now (answering the job as it is), none starts."""
        self._released.set()
        self._wake_all()

    def close(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=2)
