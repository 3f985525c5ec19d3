"""MetricsStore: counters shared by every process and host, as one Redis hash of running totals."""

from __future__ import annotations

from collections.abc import Mapping

import redis

from app.storage.keys import Keys
from app.storage.redis import translate_errors


class MetricsStore:
    """Adds deltas to, and reads, one hash of running totals (field = sample key, value = total)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._key = keys.metrics

    @translate_errors
    def add(self, deltas: Mapping[str, float]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for field, amount in deltas.items():
            pipe.hincrbyfloat(self._key, field, amount)
        pipe.execute()

    @translate_errors
    def totals(self) -> dict[str, float]:
        return {k.decode(): float(v) for k, v in self._client.hgetall(self._key).items()}
