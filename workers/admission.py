"""Admission: how many job messages a worker takes, so that it holds no job needing a process it cannot start.

A job worker has more threads than algorithm processes so that quick runs (``Algorithm.is_quick``)
go on in its threads beside busy processes. Taking as many jobs as it has threads would make those
that need a process wait inside this worker, leased to it, while another worker has a process free,
and ahead of jobs of higher priority that arrive later. So its consumer takes one job per free
process not yet spoken for by a job it holds undecided; with none free, one job at a time, to find
a quick one: a job that needs a process then goes back to the queue at once, at the front of its
priority (``QueueBroker.give_back``), still ``pending``, for whichever worker frees a process first,
and this worker takes no more until one of its own processes is freed.

After ``QUICK_RUN`` quick jobs in a row (their run messages say so: ``messages.is_quick_message``)
the queue is most likely a run of quick jobs, and one job per free process would starve the
threads: the consumer then takes as many as its prefetch allows. The first job that needs a
process ends the run: those taken with it beyond the free processes go back to the queue as above,
and a new run needs ``QUICK_RUN`` quick jobs again (in a mixed queue, rarely).

Cost: that look (a fetch, a read of the job, the give-back: three round trips) happens at most once
per process freed, and only while every process of the worker is busy; when a run of quick jobs
ends, at most a prefetch's worth of give-backs.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

from workers.executor import ProcessExecutor

#: The room during a run of quick jobs: no limit of ours (the consumer's prefetch bounds it).
UNLIMITED = 1 << 30
#: Quick jobs decided in a row (none needing a process between) that make a run.
QUICK_RUN = 8


class Admission:
    """The job consumer's fetch limit (``QueueBroker.limit_fetching``), kept with ``run_job``."""

    def __init__(self, executor: ProcessExecutor, on_admitted: Callable[[], None] = lambda: None) -> None:
        """``on_admitted``: called when a job is decided (room may have opened for another)."""
        self._executor = executor
        self._on_admitted = on_admitted
        self._lock = threading.Lock()
        self._admitted = 0  # jobs past their decision: holding a process, or quick in a thread
        self._turned_away_at: int | None = None  # ``executor.freed()`` when a job last found no process
        self._quick_in_a_row = 0  # jobs decided quick since the last that needed a process

    def room(self, held: int) -> int:
        """How many more job messages a consumer holding ``held`` may fetch now."""
        with self._lock:
            undecided = held - self._admitted
            turned_away = self._turned_away_at == self._executor.freed()
            quick_run = self._quick_in_a_row >= QUICK_RUN
        if quick_run and not turned_away:
            return UNLIMITED
        free = self._executor.free()
        if free > undecided:
            return free - undecided
        return 1 if undecided <= 0 and not turned_away else 0

    @contextlib.contextmanager
    def admitted(self, quick: bool = False) -> Iterator[None]:
        """A job that runs here (on its reserved process, or ``quick`` in this thread) while inside."""
        with self._lock:
            self._admitted += 1
            self._quick_in_a_row = self._quick_in_a_row + 1 if quick else 0
        try:
            self._on_admitted()
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    def turn_away(self) -> None:
        """A job that needs a process found none free: take no more until a process is freed."""
        with self._lock:
            self._turned_away_at = self._executor.freed()
            self._quick_in_a_row = 0
