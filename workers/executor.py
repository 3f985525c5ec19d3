"""ProcessExecutor: runs algorithms in child processes, so that a run can be stopped at any moment.

A thread cannot be interrupted inside one long native call (a huge ``pow``, say); a process can be
killed. Each worker thread has a slot: a child process that runs one algorithm call at a time.
Fast jobs pay only the pipe round trip. A run over its time limit, or cancelled, has its child
killed at once, and the slot starts another when it is next needed.

Children ignore SIGTERM and SIGINT: a process manager signalling the whole process group (systemd,
honcho, a terminal's Ctrl-C) is asking the worker to stop, and the worker decides what happens to
the runs in progress (``interrupt``). They die with the worker however it dies (PR_SET_PDEATHSIG).
A child that dies (killed, out of memory) ends its run as ``lost``: the job runs again.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

import algorithms
from app.services.execution import CANCELLED, INTERRUPTED, LOST, TIMEOUT, Run, run_algorithm

log = logging.getLogger(__name__)

#: How often a waiting run looks at its deadline and at cancellation requests, in seconds.
CHECK_SECONDS = 0.05
#: Longest a new algorithm process may take to load the algorithms.
STARTUP_SECONDS = 60.0
#: Children start by spawning: a fresh interpreter, never a fork of this multi-threaded process.
_CONTEXT = multiprocessing.get_context("spawn")
#: Signals meant for the worker, not for its algorithm processes.
_WORKER_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _serve(connection: Connection) -> None:
    """The child's loop: run each (algorithm name, params) it is sent, answer with a Run."""
    for signum in _WORKER_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _WORKER_SIGNALS)  # blocked since birth (see _spawning)
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker, even SIGKILLed
    registry = algorithms.load_algorithms()
    connection.send("ready")
    while True:
        try:
            name, params = connection.recv()
        except EOFError:
            return
        run = run_algorithm(registry.get(name), params)
        connection.send(  # a tuple pickles fastest
            (run.outcome, run.result, run.error, run.elapsed, run.error_details, run.permanent)
        )


@contextlib.contextmanager
def _spawning() -> Iterator[None]:
    """Block the worker's signals in this thread while a child is created: the child inherits the
    mask, so a group signal sent during its start-up waits until it has chosen to ignore it.
    The worker still gets the signal, through its other threads."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class _Slot:
    """One child process, started when needed and replaced when it has to be killed or dies."""

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None
        self._connection: Connection | None = None
        self._ready = False

    def start(self) -> None:
        self._connection, child_end = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child_end,), daemon=True, name="algorithm")
        with _spawning():
            self.process.start()
        child_end.close()
        self._ready = False

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> bool:
        """Wait until the child has loaded the algorithms; False when it died meanwhile."""
        if self._ready:
            return True
        assert self._connection is not None
        try:
            if self._connection.poll(timeout) and self._connection.recv() == "ready":
                self._ready = True
                return True
        except (EOFError, OSError):
            pass
        return False

    def ensure_ready(self) -> None:
        """A live, ready child, starting (again) as often as it takes: a child killed while it
        starts delays its run, never fails it."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (self.process is not None and self.process.is_alive() and self.wait_ready()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no algorithm process could start within {STARTUP_SECONDS:g} s")
            if self.process is not None:
                log.warning("algorithm process %s died; starting another", self.process.pid)
                self.kill()
            self.start()

    def run(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
        interrupted: threading.Event,
    ) -> Run:
        self.ensure_ready()
        assert self._connection is not None and self.process is not None
        started = time.monotonic()
        deadline = started + timeout
        try:
            self._connection.send((algorithm.name, params))
            while not self._connection.poll(min(CHECK_SECONDS, max(0.0, deadline - time.monotonic()))):
                stopping = (
                    INTERRUPTED
                    if interrupted.is_set()
                    else TIMEOUT
                    if time.monotonic() >= deadline
                    else CANCELLED
                    if stop_asked()
                    else None
                )
                if stopping:
                    self.kill()
                    return Run(stopping, elapsed=time.monotonic() - started)
                if not self.process.is_alive():
                    break
            else:
                return Run(*self._connection.recv())
        except (EOFError, OSError):
            pass
        log.warning("algorithm process %s died while running %s", self.process.pid, algorithm.name)
        self.kill()
        return Run(LOST, elapsed=time.monotonic() - started)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # the child sees EOF and exits
            self._connection = None
        if self.process is not None:
            self.process.join(timeout=5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
            self.process = None


def _is_quick(algorithm: algorithms.Algorithm, params: dict[str, Any]) -> bool:
    try:
        return bool(algorithm.is_quick(params))
    except Exception:  # a broken hint costs only the round trip to the child
        log.warning("%s.is_quick failed; running in a child process", algorithm.name, exc_info=True)
        return False


class ProcessExecutor:
    """As many slots as threads may run jobs; a ``Runner`` for ``RunService.execute_job``."""

    def __init__(self, slots: int) -> None:
        self._idle: queue.SimpleQueue[_Slot] = queue.SimpleQueue()
        self._closing = False
        self._interrupted = threading.Event()
        started = [_Slot() for _ in range(slots)]
        for slot in started:  # started together, awaited together
            slot.start()
        for slot in started:
            slot.ensure_ready()
            self._idle.put(slot)

    def __call__(
        self, algorithm: algorithms.Algorithm, params: dict[str, Any], timeout: float, stop_asked: Callable[[], bool]
    ) -> Run:
        if self._interrupted.is_set():
            return Run(INTERRUPTED)
        if _is_quick(algorithm, params):
            return run_algorithm(algorithm, params)
        slot = self._idle.get()
        try:
            return slot.run(algorithm, params, timeout, stop_asked, self._interrupted)
        finally:
            if self._closing:
                slot.close()
            else:
                self._idle.put(slot)

    def interrupt(self) -> None:
        """End every run in progress now, as ``interrupted`` (their jobs go back to the queue), and
        any run asked for from now on."""
        self._interrupted.set()

    def close(self) -> None:
        """Stop the idle processes now, busy ones as they come back."""
        self._closing = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
