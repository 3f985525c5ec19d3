"""CancelWatch: tells running jobs when someone asked to cancel them (and says which jobs run)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class CancelWatch:
    """One look at Redis per interval for all the jobs this process runs, however many they are."""

    def __init__(self, cancel_requested: Callable[[list[str]], set[str]], interval_seconds: float = 0.2) -> None:
        self._cancel_requested = cancel_requested
        self._interval = interval_seconds
        #: Job id → when its run started here (Unix seconds).
        self._running: dict[str, float] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cancel-watch", daemon=True)
        self._thread.start()

    def track(self, job_id: str) -> Callable[[], bool]:
        """Start watching a job; returns its ``stop_asked``. Call ``untrack`` when it ends."""
        with self._lock:
            self._running[job_id] = time.time()
        return lambda: job_id in self._cancelled

    def untrack(self, job_id: str) -> None:
        with self._lock:
            self._running.pop(job_id, None)
            self._cancelled.discard(job_id)

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                running = list(self._running)
            if not running:
                continue
            try:
                asked = self._cancel_requested(running)
            except Exception:
                log.warning("cannot see cancellation requests now", exc_info=True)
                continue
            with self._lock:
                self._cancelled |= asked & self._running.keys()

    def running(self) -> dict[str, float]:
        """The jobs this process runs now, and since when (Unix seconds)."""
        with self._lock:
            return dict(self._running)

    def close(self) -> None:
        self._stop.set()
