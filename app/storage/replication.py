"""ReplicaCheck: waits until enough Redis replicas hold every write made so far (Redis ``WAIT``).

Redis replicates asynchronously: a master that dies right after a write may take it with it, and
the replica promoted in its place never had it. ``confirm`` writes a marker on its own connection
and ``WAIT``s for replicas to acknowledge it; replication keeps the master's order, so a replica that
has the marker has every write the master made before it (a job just created by another connection
included).
"""

from __future__ import annotations

import redis

from app.storage.keys import Keys
from app.storage.redis import translate_errors

#: How long the marker key lives (it is rewritten by every confirmation).
_MARKER_TTL_MS = 60_000


class ReplicaCheck:
    def __init__(self, client: redis.Redis, keys: Keys, replicas: int, timeout_seconds: float) -> None:
        self._client = client
        self._key = keys.replication_marker
        self.replicas = replicas
        self._timeout_ms = max(1, int(timeout_seconds * 1000))

    @translate_errors
    def confirm(self) -> int:
        """How many replicas acknowledged every write made before this call, once ``replicas`` did or
        the timeout passed (one round trip)."""
        pipe = self._client.pipeline(transaction=False)
        pipe.set(self._key, "1", px=_MARKER_TTL_MS)
        pipe.execute_command("WAIT", self.replicas, self._timeout_ms)
        return int(pipe.execute()[1])
