"""ProcessExecutor: runs algorithms in a pool of child processes, so that a run can be stopped at any moment.

A thread cannot be interrupted inside one long native call (a huge ``pow``, say); a process can be
killed. The pool holds as many algorithm processes as may run at once (``WORKER_ALGORITHM_PROCESSES``,
the CPU count by default), whatever the number of threads. Runs declared quick
(``Algorithm.is_quick``) stay in the calling thread.

A job takes its process before it starts (``try_reserve``: a free one, or one starting, never one
busy): a job marked running is one that runs, and its time limit counts from then. The
``Reservation`` is the job's ``Runner``; it keeps the process until its owner releases it (once the
outcome is recorded), so a host never shows more running jobs than processes. ``free`` and ``freed``
tell the worker how many more jobs it could start (``workers.admission``). The executor called
directly (``__call__``) takes a process for the run alone, waiting in line for one.

Children come from a ``multiprocessing`` forkserver that has imported the algorithms once: one
starts in milliseconds and shares those pages with its siblings, copy-on-write. They start when
runs need them (the first one at once, so that the first run finds it ready), and stay. A run over
its time limit, or cancelled, has its child killed at once (SIGKILL); a child that dies, busy or
idle, is noticed at once; either is replaced in the background. A run whose child died ends as
``lost`` (its job runs again); ``interrupt`` ends every run in progress as ``interrupted`` at once.
A child that cannot start delays the runs waiting for it, never the worker.

The forkserver and the children ignore the SIGTERM and SIGINT that a process manager sends the whole
group (they are for the worker, which decides what happens to the runs), and die with the worker
however it dies: see ``workers.algorithm_process``.

Why not a library: ``loky`` marks its whole executor broken when one worker dies (every pending
call fails; it must be rebuilt) and cannot stop one call; ``pebble`` stops a call with SIGTERM and
waits 3 s before SIGKILL (our children ignore SIGTERM), its workers exit on SIGTERM, and neither
carries progress reports from a running call.
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

import algorithms
from app.services.execution import (
    CANCELLED,
    COMPLETED,
    FAILED,
    INTERRUPTED,
    TIMEOUT,
    Progress,
    Run,
    is_quick,
    run_algorithm,
)
from workers.algorithm_process import CHECK_SECONDS, AlgorithmProcess

log = logging.getLogger(__name__)

#: Longest an algorithm process may take to get ready. A run fails once the pool has failed to
#: start any for this long (an algorithm that kills the process loading it, say).
STARTUP_SECONDS = 60.0
#: How long a process that went idle may go unwatched (its death unnoticed until a run takes it).
IDLE_RECHECK_SECONDS = 1.0
#: Children come from a forkserver: never a fork of this multi-threaded process.
_CONTEXT = multiprocessing.get_context("forkserver")


def _preloaded_modules() -> list[str]:
    """What each child would otherwise import by itself: its loop and the algorithms.

    (Multiprocessing also runs the worker's main module again in each child, unless it is a
    package's ``__main__``: the supervisor runs ``python -m workers``, see ``workers.__main__``.)
    """
    modules = {type(algorithm).__module__ for algorithm in algorithms.load_algorithms()}
    return [AlgorithmProcess.__module__, *sorted(modules)]


class PoolBroken(RuntimeError):
    """No algorithm process could start for ``STARTUP_SECONDS``."""


class Reservation:
    """An algorithm process held for one job: taken before the job starts, and kept (between and
    after its runs) until ``release``. It is the job's ``Runner``: a quick run gives the process
    back and stays in the calling thread; a run whose process is killed or dies leaves the
    reservation empty (another is taken should it run again)."""

    def __init__(self, executor: ProcessExecutor, process: AlgorithmProcess | None) -> None:
        self._executor = executor
        self._process = process

    def __call__(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
        progress: Progress | None = None,
    ) -> Run:
        return self._executor._run(algorithm, params, timeout, stop_asked, progress, self)

    def take(self) -> AlgorithmProcess | None:
        """The process, out of the reservation (for the executor's run)."""
        process, self._process = self._process, None
        return process

    def keep(self, process: AlgorithmProcess) -> None:
        """Hold ``process`` again, after a run that left it ready."""
        self._process = process

    def release(self) -> None:
        """Give the process back to the pool (to the first waiting job); idempotent."""
        process = self.take()
        if process is not None:
            self._executor._release(process)


class _Waiter:
    """A run waiting for a process, handed one directly by ``_release``: first come, first served."""

    def __init__(self) -> None:
        self.process: AlgorithmProcess | None = None
        self.handed = threading.Event()


class ProcessExecutor:
    """A pool of up to ``size`` algorithm processes; a ``Runner`` for ``RunService.execute_job``."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"an executor needs at least one process, not {size}")
        _CONTEXT.set_forkserver_preload(_preloaded_modules())  # read when the forkserver starts
        self.size = size
        self._lock = threading.Lock()
        self._idle: list[AlgorithmProcess] = []
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._count = 0  # processes alive or starting: at most ``size``
        self._starting = 0  # of which starting
        self._alive: set[AlgorithmProcess] = set()
        self._background: set[threading.Thread] = set()
        self._failing_since: float | None = None
        self._freed = 0
        self._interrupted = threading.Event()
        self._closing = threading.Event()
        self._wake_watcher, self._watcher_woken = multiprocessing.Pipe()
        self._watcher = threading.Thread(target=self._watch_idle, name="algorithm-watch", daemon=True)
        self._watcher.start()
        with self._lock:
            self._start_one()  # the first run finds it ready

    def __call__(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
        progress: Progress | None = None,
    ) -> Run:
        """Run in this thread if quick, else in a process taken for this run (waited for, within
        ``timeout``) and given back after it."""
        return self._run(algorithm, params, timeout, stop_asked, progress, None)

    def try_reserve(self, stopping: Callable[[], bool] = lambda: False) -> Reservation | None:
        """A process held for one job: a free one, or one starting (waited for, unless ``stopping()``
        turns true first); None at once when every process is taken, or the pool stops.

        A pool that cannot start any process for ``STARTUP_SECONDS`` gives an empty reservation:
        running on it fails, saying why.
        """
        with self._lock:
            if self._interrupted.is_set() or self._closing.is_set() or self._free() <= 0:
                return None
            entry = self._enter()
        if not isinstance(entry, _Waiter):
            return Reservation(self, entry)
        try:
            process = self._await(entry, lambda: INTERRUPTED if stopping() else None)
        except PoolBroken:
            return Reservation(self, None)
        return None if isinstance(process, str) else Reservation(self, process)

    def free(self) -> int:
        """Processes neither running nor held, nor promised to a waiting run (those not started yet count)."""
        with self._lock:
            return self._free()

    def freed(self) -> int:
        """How many times a process was given back: a change says one may be free again."""
        return self._freed

    def _run(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
        progress: Progress | None,
        reservation: Reservation | None,
    ) -> Run:
        """One run: in this thread if quick (a reserved process is then given back), else on the
        reserved process, or on one taken for it; a process that survives the run stays reserved."""
        if self._interrupted.is_set():
            return Run(INTERRUPTED)
        progress = _guarded(progress, algorithm.name)
        if is_quick(algorithm, params):
            if reservation is not None:
                reservation.release()
            return run_algorithm(algorithm, params, progress)
        started = time.monotonic()
        deadline = started + timeout

        def stopping() -> str | None:
            if self._interrupted.is_set():
                return INTERRUPTED
            if time.monotonic() >= deadline:
                return TIMEOUT
            return CANCELLED if stop_asked() else None

        process = reservation.take() if reservation is not None else None
        if process is not None and process.is_dead():  # died while reserved: this run has not begun
            with self._lock:
                self._replace(process)
            process = None
        if process is None:
            process = self._acquire(stopping)
            if isinstance(process, str):  # stopped while it waited for a process
                return Run(process, elapsed=time.monotonic() - started)
        try:
            run = process.run(algorithm.name, params, stopping, progress)
        except BaseException:  # raised into this thread mid-run (Dramatiq's time limit): the child is in no known state
            process.kill()
            with self._lock:
                self._replace(process)
            raise
        if run.outcome not in (COMPLETED, FAILED):  # killed, or dead
            with self._lock:
                self._replace(process)
        elif reservation is not None:
            reservation.keep(process)
        else:
            self._release(process)
        return run

    def pids(self) -> list[int]:
        """Ids of the algorithm processes alive now."""
        with self._lock:
            return sorted(process.pid for process in self._alive)

    def interrupt(self) -> None:
        """End every run in progress now, as ``interrupted`` (their jobs go back to the queue), and
        any run asked for from now on."""
        self._interrupted.set()

    def close(self) -> None:
        """Stop the idle processes now, busy ones as they come back."""
        with self._lock:
            self._closing.set()
            idle, self._idle = self._idle, []
        self._wake_watcher.send_bytes(b"")
        for process in idle:
            self._end(process)
        while True:
            with self._lock:
                background = next(iter(self._background), None)
            if background is None:
                break
            background.join()
        self._watcher.join()
        self._wake_watcher.close()
        self._watcher_woken.close()

    def _take_idle(self) -> AlgorithmProcess | None:
        """(Lock held.) An idle process alive, if any (dead ones found on the way are replaced)."""
        while self._idle:
            process = self._idle.pop()
            if not process.is_dead():
                return process
            self._replace(process)
        return None

    def _free(self) -> int:
        """(Lock held.) See ``free``."""
        busy = self._count - len(self._idle) - self._starting
        return self.size - busy - len(self._waiters)

    def _enter(self) -> AlgorithmProcess | _Waiter:
        """(Lock held.) An idle process, else a place in line (a process started for it if none is on its way)."""
        process = self._take_idle()
        if process is not None:
            return process
        if self._count < self.size and len(self._waiters) >= self._starting:  # none on its way for this run
            self._start_one()
        waiter = _Waiter()
        self._waiters.append(waiter)
        return waiter

    def _acquire(self, stopping: Callable[[], str | None]) -> AlgorithmProcess | str:
        """A ready process for this run, or the outcome that stopped the run while it waited;
        raises ``PoolBroken`` when no process could start for ``STARTUP_SECONDS``."""
        with self._lock:
            entry = self._enter()
        return self._await(entry, stopping) if isinstance(entry, _Waiter) else entry

    def _await(self, waiter: _Waiter, stopping: Callable[[], str | None]) -> AlgorithmProcess | str:
        """Wait in line for the process ``_release`` hands over, or for ``stopping()`` to name an outcome."""
        try:
            while not waiter.handed.wait(CHECK_SECONDS):
                outcome = stopping() or (INTERRUPTED if self._closing.is_set() else None)
                if outcome is not None:
                    self._give_up(waiter)
                    return outcome
                if self._broken():
                    raise PoolBroken(f"no algorithm process could start for {STARTUP_SECONDS:g} s")
        except BaseException:
            self._give_up(waiter)
            raise
        assert waiter.process is not None
        return waiter.process

    def _give_up(self, waiter: _Waiter) -> None:
        """A run stops waiting: out of the line, or on to the next run with the process it was handed."""
        with self._lock:
            if waiter.process is None:
                self._waiters.remove(waiter)
                return
        self._release(waiter.process)

    def _release(self, process: AlgorithmProcess) -> None:
        """A ready process is free: to the first waiting run, else to the idle ones."""
        with self._lock:
            self._freed += 1
            if not self._closing.is_set():
                if self._waiters:
                    waiter = self._waiters.popleft()
                    waiter.process = process
                    waiter.handed.set()
                else:
                    self._idle.append(process)
                return
        self._end(process)

    def _replace(self, process: AlgorithmProcess) -> None:
        """(Lock held.) A killed or dead process: collected, and another started, in the background."""
        self._count -= 1
        self._in_background(self._collect, process)
        if not (self._closing.is_set() or self._interrupted.is_set()):
            self._start_one()

    def _start_one(self) -> None:
        """(Lock held.) Start a process in the background; ready, it goes to ``_release``."""
        self._count += 1
        self._starting += 1
        self._in_background(self._start)

    def _in_background(self, task: Callable[..., None], *args: Any) -> None:
        def run() -> None:
            try:
                task(*args)
            finally:
                with self._lock:
                    self._background.discard(thread)

        thread = threading.Thread(target=run, name="algorithm-processes", daemon=True)
        self._background.add(thread)
        thread.start()

    def _start(self) -> None:
        """Start processes until one is ready (one killed while it starts only delays it), unless
        the pool stops first."""
        delay = 0.05
        while not (self._closing.is_set() or self._interrupted.is_set()):
            try:
                process = AlgorithmProcess(_CONTEXT)
            except Exception:  # the forkserver died meanwhile, say
                log.warning("no algorithm process could be started; trying again", exc_info=True)
            else:
                with self._lock:
                    self._alive.add(process)
                if process.wait_ready(STARTUP_SECONDS):
                    self._failing_since = None
                    with self._lock:
                        self._starting -= 1
                    self._release(process)
                    return
                log.warning("algorithm process %s died while starting; starting another", process.pid)
                self._collect(process)
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            self._closing.wait(delay)
            delay = min(delay * 2, 2.0)
        with self._lock:
            self._starting -= 1
            self._count -= 1

    def _collect(self, process: AlgorithmProcess) -> None:
        process.reap()
        with self._lock:
            self._alive.discard(process)

    def _end(self, process: AlgorithmProcess) -> None:
        process.close()
        with self._lock:
            self._alive.discard(process)
            self._count -= 1

    def _broken(self) -> bool:
        failing = self._failing_since
        return failing is not None and time.monotonic() - failing > STARTUP_SECONDS

    def _watch_idle(self) -> None:
        """Replace an idle process that dies (killed, out of memory) as soon as it does; one that
        went idle less than ``IDLE_RECHECK_SECONDS`` ago is seen after at most that long."""
        while not self._closing.is_set():
            with self._lock:
                watched = {process.connection: process for process in self._idle}
            for ready in wait([self._watcher_woken, *watched], timeout=IDLE_RECHECK_SECONDS):
                process = watched.get(ready)
                with self._lock:
                    if process in self._idle and process.is_dead():
                        log.warning("idle algorithm process %s died; starting another", process.pid)
                        self._idle.remove(process)
                        self._replace(process)


def _guarded(progress: Progress | None, name: str) -> Progress | None:
    """The callback, with its failures logged rather than failing the run."""
    if progress is None:
        return None

    def report(fraction: float, message: str) -> None:
        try:
            progress(fraction, message)
        except Exception:
            log.warning("a progress report of %s was lost", name, exc_info=True)

    return report
