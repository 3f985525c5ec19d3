"""ProgressWriter: keeps what running jobs report (``context.progress``) in Redis, a few writes a
second per job at most.

An algorithm may report as often as it likes; the worker writes a job's progress at once when its
last write is ``interval`` old, and otherwise keeps the newest report for a background thread to
write when that time comes, so the latest report is always written and a busy loop costs one write
per interval. Reports arrive on the thread that runs the job: they never wait for Redis longer
than one write, and a write that fails (Redis away) is dropped, not retried: a newer one follows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from app.domain.errors import StorageUnavailable
from app.domain.models import Job

log = logging.getLogger(__name__)

#: Seconds between two writes of one job's progress: at most four a second.
INTERVAL_SECONDS = 0.25

#: Writes one report: (the job as its run started, fraction, message). False: the job moved on.
Write = Callable[[Job, float, str], bool]


class ProgressWriter:
    def __init__(self, write: Write, interval: float = INTERVAL_SECONDS, clock: Callable[[], float] = time.monotonic):
        self._write = write
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        #: job id → when its progress was last written (monotonic).
        self._written: dict[str, float] = {}
        #: job id → the newest report not yet written.
        self._pending: dict[str, tuple[Job, float, str]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, job: Job, fraction: float, message: str) -> None:
        """A report of ``job``'s run (from the thread running it)."""
        now = self._clock()
        with self._lock:
            if job.job_id in self._pending or now - self._written.get(job.job_id, -self._interval) < self._interval:
                self._pending[job.job_id] = (job, fraction, message)
                self._ensure_thread()
                return
            self._written[job.job_id] = now
        self._store(job, fraction, message)

    def _store(self, job: Job, fraction: float, message: str) -> None:
        try:
            self._write(job, fraction, message)
        except StorageUnavailable:
            log.debug("progress of job %s not written: Redis is not answering", job.job_id)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._write_pending, name="progress-writer", daemon=True)
            self._thread.start()

    def _write_pending(self) -> None:
        while not self._stop.wait(self._interval / 2):
            now = self._clock()
            with self._lock:
                due = [
                    report
                    for job_id, report in self._pending.items()
                    if now - self._written.get(job_id, -self._interval) >= self._interval
                ]
                for job, _, _ in due:
                    del self._pending[job.job_id]
                    self._written[job.job_id] = now
                # Forget jobs not heard of for a while (they ended): the map stays small.
                for job_id in [j for j, at in self._written.items() if now - at > 60 and j not in self._pending]:
                    del self._written[job_id]
            for report in due:
                self._store(*report)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
