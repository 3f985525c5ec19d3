"""What an algorithm says about retrying its runs: a default ``RetryPolicy``, and ``PermanentError``.

A job runs once unless its submission, or its algorithm (``Algorithm.retry``), gives a policy.
A run that fails (raises, or passes its time limit) is then run again after a growing delay,
until the policy's attempts run out; raising ``PermanentError`` (or a subclass) says that trying
again cannot help, and the job fails at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

#: Bounds of a policy's fields, as the API checks them.
MAX_ATTEMPTS = 20
MAX_BACKOFF_SECONDS = 86_400.0


class PermanentError(Exception):
    """Raised by an algorithm for a failure that another attempt would repeat (bad input it could
    only detect while running, say): its job is failed at once, whatever its retry policy."""


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed run up to ``max_attempts`` runs in all, ``backoff_seconds × 2^(n−1)`` after
    the n-th failure, capped at ``max_backoff_seconds`` (every delay, the first too); with
    ``jitter``, a random delay between half that and that (so that jobs failing together do not
    retry together)."""

    max_attempts: int = 1
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 300.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ValueError(f"max_attempts must be 1 to {MAX_ATTEMPTS}")
        if not (
            0 < self.backoff_seconds <= MAX_BACKOFF_SECONDS and 0 < self.max_backoff_seconds <= MAX_BACKOFF_SECONDS
        ):
            raise ValueError(
                f"backoff_seconds and max_backoff_seconds must be above 0, at most {MAX_BACKOFF_SECONDS:g}"
            )

    def delay(self, failures: int, draw: random.Random | None = None) -> float:
        """Seconds to wait after the ``failures``-th failed run before the next one."""
        base = min(self.backoff_seconds * 2 ** (failures - 1), self.max_backoff_seconds)
        if not self.jitter:
            return base
        return (draw or random).uniform(base / 2, base)

    def as_dict(self) -> dict[str, object]:
        return {
            "max_attempts": self.max_attempts,
            "backoff_seconds": self.backoff_seconds,
            "max_backoff_seconds": self.max_backoff_seconds,
            "jitter": self.jitter,
        }
