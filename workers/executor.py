"""ProcessExecutor: runs algorithms in child processes, so that a run can be stopped at any moment.

A thread cannot be interrupted inside one long native call (a huge ``pow``, say); a process can be
killed. Each worker thread has a slot: a child process, started once, that runs one algorithm call
at a time. Fast jobs pay only the pipe round trip. A run over its time limit, or one cancelled, has
its child killed at once and replaced, and the slot serves the next job.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import queue
import signal
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import algorithms
from app.services.execution import CANCELLED, FAILED, TIMEOUT, Run, run_algorithm

log = logging.getLogger(__name__)

#: How often a waiting run looks at its deadline and at cancellation requests, in seconds.
CHECK_SECONDS = 0.05
#: Longest a new algorithm process may take to load the algorithms.
STARTUP_SECONDS = 60.0
#: Children start by spawning: a fresh interpreter, never a fork of this multi-threaded process.
_CONTEXT = multiprocessing.get_context("spawn")


def _serve(connection: Connection) -> None:
    """The child's loop: run each (algorithm name, params) it is sent, answer with a Run."""
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the worker, even SIGKILLed
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the worker, which stops us
    registry = algorithms.load_algorithms()
    connection.send("ready")
    while True:
        try:
            name, params = connection.recv()
        except EOFError:
            return
        run = run_algorithm(registry.get(name), params)
        connection.send((run.outcome, run.result, run.error, run.elapsed))  # a tuple pickles fastest


class _Slot:
    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self._connection, child_end = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child_end,), daemon=True, name="algorithm")
        self.process.start()
        child_end.close()
        self._ready = False

    def wait_ready(self, timeout: float = STARTUP_SECONDS) -> None:
        """Wait until the child has loaded the algorithms (its first answer is 'ready')."""
        if not self._ready:
            if not self._connection.poll(timeout) or self._connection.recv() != "ready":
                raise RuntimeError(f"an algorithm process did not start within {timeout:g} s")
            self._ready = True

    def run(
        self, algorithm: algorithms.Algorithm, params: dict[str, Any], timeout: float, stop_asked: Callable[[], bool]
    ) -> Run:
        if not self.process.is_alive():  # died while idle (killed, out of memory): a fresh one runs this job
            self.restart()
        self.wait_ready()
        started = time.monotonic()
        deadline = started + timeout
        self._connection.send((algorithm.name, params))
        while not self._connection.poll(min(CHECK_SECONDS, max(0.0, deadline - time.monotonic()))):
            stopping = TIMEOUT if time.monotonic() >= deadline else CANCELLED if stop_asked() else None
            if stopping:
                self.restart()
                return Run(stopping, elapsed=time.monotonic() - started)
            if not self.process.is_alive():
                self.restart()
                return Run(FAILED, error="the algorithm's process died", elapsed=time.monotonic() - started)
        return Run(*self._connection.recv())

    def restart(self) -> None:
        self.process.kill()
        self.process.join()
        self._connection.close()
        self._start()

    def close(self) -> None:
        self._connection.close()  # the child sees EOF and exits
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


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
        started = [_Slot() for _ in range(slots)]
        for slot in started:  # started together, awaited together: jobs are taken once all can run
            slot.wait_ready()
            self._idle.put(slot)

    def __call__(
        self, algorithm: algorithms.Algorithm, params: dict[str, Any], timeout: float, stop_asked: Callable[[], bool]
    ) -> Run:
        if _is_quick(algorithm, params):
            return run_algorithm(algorithm, params)
        slot = self._idle.get()
        try:
            return slot.run(algorithm, params, timeout, stop_asked)
        except (OSError, EOFError):
            log.exception("algorithm process lost; starting another")
            slot.restart()
            return Run(FAILED, error="the algorithm's process was lost")
        finally:
            if self._closing:
                slot.close()
            else:
                self._idle.put(slot)

    def close(self) -> None:
        """Stop the idle processes now, busy ones as they come back.

        A run still going when the worker exits is not failed: its process dies with the worker and
        the job, never acknowledged, runs again elsewhere.
        """
        self._closing = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
