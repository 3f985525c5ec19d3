"""Admission: how many job messages a worker takes, so that it holds no job it cannot start at once.

A job worker has more threads than algorithm processes so that quick runs (``Algorithm.is_quick``)
go on in its threads beside busy processes. Taking as many jobs as it has threads would make those
that need a process wait inside this worker, leased to it, while another worker has a process free,
and ahead of jobs of higher priority that arrive later. So its consumer takes one job per free
process not yet spoken for by a job it holds undecided; with none free, one job at a time, to find
a quick one: a job that needs a process then goes back to the queue at once, at the front of its
priority (``QueueBroker.give_back``), still ``pending``, for whichever worker frees a process first,
and this worker takes no more until one of its own processes is freed.

Cost: that look (a fetch, a read of the job, the give-back: three round trips) happens at most once
per process freed, and only while every process of the worker is busy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from workers.executor import ProcessExecutor


class Admission:
    """The job consumer's fetch limit (``QueueBroker.limit_fetching``), kept with ``run_job``."""

    def __init__(self, executor: ProcessExecutor) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._admitted = 0  # jobs past their decision: holding a process, or quick in a thread
        self._turned_away_at: int | None = None  # ``executor.freed()`` when a job last found no process

    def room(self, held: int) -> int:
        """How many more job messages a consumer holding ``held`` may fetch now."""
        with self._lock:
            undecided = held - self._admitted
            turned_away = self._turned_away_at == self._executor.freed()
        free = self._executor.free()
        if free > undecided:
            return free - undecided
        return 1 if undecided <= 0 and not turned_away else 0

    @contextlib.contextmanager
    def admitted(self) -> Iterator[None]:
        """A job that runs here (on its reserved process, or quick in this thread) while inside."""
        with self._lock:
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def turn_away(self) -> None:
        """A job that needs a process found none free: take no more until a process is freed."""
        with self._lock:
            self._turned_away_at = self._executor.freed()
