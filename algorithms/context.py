"""Context: what a running algorithm can tell the platform while it works (how far it has come).

An algorithm receives one when its ``run`` declares a second parameter::

    def run(self, params: dict, context: Context) -> dict:
        for i, chunk in enumerate(chunks):
            ...
            context.progress((i + 1) / len(chunks), f"chunk {i + 1} of {len(chunks)}")

``run(self, params)`` stays valid: algorithms that report nothing need not change. The same call
works wherever the run happens (a worker's thread, an algorithm process, ``/invoke``); where no one
listens, reports are checked and dropped.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

#: Longest message kept with a report; longer ones are cut.
PROGRESS_MESSAGE_MAX_CHARS = 200


class Context:
    """Handed to ``run(params, context)``; ``report(fraction, message)`` receives what it is told."""

    def __init__(self, report: Callable[[float, str], None] | None = None) -> None:
        self._report = report

    def progress(self, fraction: float, message: str = "") -> None:
        """Report how far the run has come.

        Each call is one message to the worker (tens of microseconds when the run is in an algorithm
        process): report milestones, a few times a second at most, not every loop iteration.

        Args:
            fraction: the share of the work done, from 0.0 to 1.0.
            message: what the run is doing now, for people; cut to ``PROGRESS_MESSAGE_MAX_CHARS``.

        Raises:
            TypeError: ``fraction`` is not a real number, or ``message`` not a string.
            ValueError: ``fraction`` is outside 0.0–1.0 (or NaN).
        """
        if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
            raise TypeError(f"progress fraction must be a number from 0 to 1, not {type(fraction).__name__}")
        if math.isnan(fraction) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"progress fraction must be from 0 to 1, got {fraction!r}")
        if not isinstance(message, str):
            raise TypeError(f"progress message must be a string, not {type(message).__name__}")
        if self._report is not None:
            self._report(float(fraction), message[:PROGRESS_MESSAGE_MAX_CHARS])
