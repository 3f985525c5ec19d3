"""Running one algorithm call, and counting it: the same for ``/invoke`` and for jobs.

``run_algorithm`` needs nothing but the algorithm, so it also runs inside the worker's executor
processes; ``account`` then counts the outcome in the parent.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import algorithms
from app.domain.errors import AlgorithmFailed
from app.infra.metrics import ALGORITHM_DURATION, ALGORITHM_EXECUTIONS

if TYPE_CHECKING:  # not imported at run time: algorithm processes import this module, and need no Redis
    from app.infra.shared_metrics import SharedMetrics

log = logging.getLogger(__name__)

COMPLETED, FAILED, TIMEOUT, CANCELLED = "completed", "failed", "timeout", "cancelled"
#: A run that did not end: ``interrupted`` (its worker is stopping), ``lost`` (its process died).
INTERRUPTED, LOST = "interrupted", "lost"
#: Most of a failed run's traceback kept with its job (its end: the frames nearest the error).
ERROR_DETAILS_MAX_BYTES = 8 * 1024
#: Frames of a traceback kept, counted from the error.
_TRACEBACK_FRAMES = 20
#: Receives a run's progress reports, ``(fraction, message)``, as the algorithm makes them
#: (``algorithms.Context.progress``).
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Run:
    """What one call came to: ``completed`` with a result, ``failed`` with an error (and the end of
    its traceback), ``timeout`` or ``cancelled`` (when it had to be stopped), or it did not end
    (``interrupted``, ``lost``)."""

    outcome: str
    result: dict[str, Any] | None = None
    error: str | None = None
    elapsed: float = 0.0
    error_details: str | None = None
    #: The algorithm raised ``PermanentError``: retrying cannot help.
    permanent: bool = False


@dataclass(frozen=True)
class Execution:
    result: dict[str, Any]
    #: ``{algorithm, version, elapsed_time}``, as the API reference shows it.
    metadata: dict[str, Any]


def run_algorithm(algorithm: algorithms.Algorithm, params: dict[str, Any], progress: Progress | None = None) -> Run:
    """Call ``algorithm.run``, its progress reports going to ``progress``; whatever it raises becomes
    a ``failed`` run with its message."""
    started = time.perf_counter()
    try:
        result = algorithm.call(params, algorithms.Context(progress))
        _check_result(result)
    except Exception as exc:
        elapsed = time.perf_counter() - started
        return Run(
            FAILED,
            error=f"{type(exc).__name__}: {exc}",
            elapsed=elapsed,
            error_details=traceback_tail(exc),
            permanent=isinstance(exc, algorithms.PermanentError),
        )
    return Run(COMPLETED, result=result, elapsed=time.perf_counter() - started)


def is_quick(algorithm: algorithms.Algorithm, params: dict[str, Any]) -> bool:
    """Whether this run may stay in the calling thread (``Algorithm.is_quick``); a hint that raises
    counts as no, and costs only a run in an algorithm process."""
    try:
        return bool(algorithm.is_quick(params))
    except Exception:
        log.warning("%s.is_quick failed; running in a child process", algorithm.name, exc_info=True)
        return False


def traceback_tail(exc: BaseException) -> str:
    """The last frames of ``exc``'s traceback, at most ``ERROR_DETAILS_MAX_BYTES`` (the end is kept)."""
    text = "".join(traceback.format_exception(exc, limit=-_TRACEBACK_FRAMES)).rstrip()
    encoded = text.encode()
    if len(encoded) <= ERROR_DETAILS_MAX_BYTES:
        return text
    return "..." + encoded[-(ERROR_DETAILS_MAX_BYTES - 3) :].decode(errors="ignore")


def account(metrics: SharedMetrics, algorithm: algorithms.Algorithm, run: Run) -> dict[str, Any]:
    """Count a run in the algorithm metrics; returns its metadata."""
    if run.outcome in (COMPLETED, FAILED):
        status = "success" if run.outcome == COMPLETED else "error"
        metrics.inc(ALGORITHM_EXECUTIONS, algorithm=algorithm.name, status=status)
        metrics.observe(ALGORITHM_DURATION, run.elapsed, algorithm=algorithm.name)
    return {"algorithm": algorithm.name, "version": algorithm.version, "elapsed_time": round(run.elapsed, 6)}


def execute(algorithm: algorithms.Algorithm, params: dict[str, Any], metrics: SharedMetrics) -> Execution:
    """Run now, in this thread, and count it; raises ``ALGORITHM_ERROR`` when the algorithm fails."""
    run = run_algorithm(algorithm, params)
    metadata = account(metrics, algorithm, run)
    if run.outcome != COMPLETED:
        log.warning("algorithm %s failed: %s\n%s", algorithm.name, run.error, run.error_details)
        raise AlgorithmFailed(run.error)
    return Execution(run.result, metadata)


def _check_result(result: Any) -> None:
    if not isinstance(result, dict):
        raise TypeError(f"run() must return a dict, not {type(result).__name__}")
    # Fail here, with the algorithm named, rather than later in storage or in the response.
    json.dumps(result, allow_nan=False)
