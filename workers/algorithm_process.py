"""One algorithm process: the loop it runs, and the worker's handle on it.

The child runs one algorithm call at a time, sent by the worker over a pipe; while it runs, the
algorithm's ``context.progress`` reports travel back over the same pipe, ahead of the result. The
worker's side waits for that result while watching its deadline and its reasons to stop, and kills
the child outright when it must stop: a process can be stopped inside one long native call, a
thread cannot.

How a child is tied to its worker, which is not its parent (it comes from a forkserver, see
``workers.executor``): it ignores SIGTERM and SIGINT, which a process manager sends to the whole
group to stop the worker (the worker then decides what happens to the runs), and it dies when the
worker dies, however it dies, even while the child is stuck in native code: multiprocessing keeps
a pipe open from the worker to each child (``parent_process().sentinel``), and the child asks the
kernel for ``SIGIO`` when that pipe closes (``O_ASYNC``), a signal whose default action ends the
process without needing the interpreter. (``PR_SET_PDEATHSIG`` would tie it to the forkserver
instead.) A child outlives its forkserver and goes on serving.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any

import algorithms
from app.services.execution import LOST, Progress, Run, run_algorithm

log = logging.getLogger(__name__)

#: How often a waiting run looks at its deadline and at its reasons to stop, in seconds.
CHECK_SECONDS = 0.05
#: Signals meant for the worker, not for its algorithm processes.
WORKER_SIGNALS = {signal.SIGTERM, signal.SIGINT}
#: What a child sends: once ``(READY,)``; per call, any ``(PROGRESS, fraction, message)``, then
#: ``(DONE, outcome, result, error, elapsed, error_details, permanent)`` (tuples pickle fastest).
READY, PROGRESS, DONE = "ready", "progress", "done"


def _tie_to_worker() -> None:
    for signum in WORKER_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)  # blocked since birth (see ``spawning``)
    worker = multiprocessing.parent_process()
    assert worker is not None, "an algorithm process is started by multiprocessing"
    lifeline = worker.sentinel  # at end of file once the worker is gone
    signal.signal(signal.SIGIO, signal.SIG_DFL)
    fcntl.fcntl(lifeline, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(lifeline, fcntl.F_SETFL, fcntl.fcntl(lifeline, fcntl.F_GETFL) | os.O_ASYNC)
    if not worker.is_alive():  # gone before the line was armed
        os._exit(1)


def serve(connection: Connection) -> None:
    """The child's loop: run each ``(algorithm name, params)`` it is sent; end when the pipe closes."""
    _tie_to_worker()
    lock = threading.Lock()  # an algorithm may report from threads of its own

    def send(message: tuple) -> None:
        with lock:
            connection.send(message)

    send((READY,))
    while True:
        try:
            name, params = connection.recv()
        except EOFError:
            return
        run = run_algorithm(_algorithm(name), params, lambda fraction, text: send((PROGRESS, fraction, text)))
        send((DONE, run.outcome, run.result, run.error, run.elapsed, run.error_details, run.permanent))


def _algorithm(name: str) -> algorithms.Algorithm:
    """The algorithm called ``name``: the forkserver imported them all, unless it could not import a
    module (it cannot see ``sys.path`` entries added at run time before Python 3.12.8); then it is
    imported here, once."""
    try:
        return algorithms.registry.get(name)
    except algorithms.AlgorithmNotFound:
        return algorithms.load_algorithms().get(name)


@contextlib.contextmanager
def spawning() -> Iterator[None]:
    """Block the worker's signals in this thread while a process is created: it inherits the mask,
    so a group signal sent during its start-up waits until it has chosen to ignore it (the
    forkserver, started by the first child, keeps them blocked for good). The worker still gets
    the signal, through its other threads."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


class AlgorithmProcess:
    """The worker's handle on one child: start it, run calls on it, kill it."""

    def __init__(self, context: BaseContext) -> None:
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=serve, args=(child_end,), daemon=True, name="algorithm")
        # Starting multiprocessing's resource tracker unblocks SIGINT and SIGTERM in the thread that
        # does it: start it first (a no-op once it runs), so that a new forkserver keeps them blocked.
        resource_tracker.ensure_running()
        with spawning():
            self._process.start()
        child_end.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the child is ready to run; False when it died (or said nothing) meanwhile."""
        try:
            return self._connection.poll(timeout) and self._connection.recv() == (READY,)
        except (EOFError, OSError):
            return False

    def is_dead(self) -> bool:
        """True when an idle child is gone (its end of the pipe closed); it has nothing else to say."""
        try:
            return self._connection.poll(0)
        except OSError:
            return True

    @property
    def connection(self) -> Connection:
        """The worker's end of the pipe: readable at once when the child dies (for ``connection.wait``)."""
        return self._connection

    def run(
        self, name: str, params: dict[str, Any], stopping: Callable[[], str | None], progress: Progress | None
    ) -> Run:
        """Run one call. ``stopping()``, asked every ``CHECK_SECONDS``, names the outcome when the
        run must stop now: the child is then killed. Reports go to ``progress`` as they arrive."""
        started = time.monotonic()
        try:
            self._connection.send((name, params))
            while True:
                outcome = stopping()
                if outcome is not None:
                    self.kill()
                    return Run(outcome, elapsed=time.monotonic() - started)
                if self._connection.poll(CHECK_SECONDS):
                    kind, *fields = self._connection.recv()
                    if kind == DONE:
                        return Run(*fields)
                    if progress is not None:
                        progress(*fields)
        except (EOFError, OSError):  # its end of the pipe closed: the child is gone
            log.warning("algorithm process %s died while running %s", self.pid, name)
            return Run(LOST, elapsed=time.monotonic() - started)

    def kill(self) -> None:
        """SIGKILL, now; ``reap`` collects what is left."""
        self._process.kill()

    def reap(self, grace_seconds: float = 1.0) -> None:
        """Wait for the child to end (killing it after ``grace_seconds``) and close the pipe."""
        self._process.join(grace_seconds)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._connection.close()

    def close(self) -> None:
        """Ask the child to end (it sees the pipe close), killing it when it takes too long."""
        self._connection.close()
        self.reap(grace_seconds=5.0)
