"""WorkerRegistry: the worker processes alive now, on any host, as they describe themselves.

Each process writes its description (a JSON object: id, host, pid, role, threads, ...) with a
heartbeat; an entry not refreshed within its time to live is gone, so a killed worker disappears
without anyone removing it.
"""

from __future__ import annotations

import json
from typing import Any

import redis

from app.storage.keys import Keys
from app.storage.queue import QUEUE_LUA
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript, Signature

_BEAT_SIGNATURE = Signature(keys=("index", "entry"), args=("id", "description", "ttl_ms"))
# Writes a worker's description with its time to live, and its heartbeat time in the index.
_BEAT = """
local now = q_now()
redis.call('SET', K.entry, A.description, 'PX', A.ttl_ms)
redis.call('ZADD', K.index, now, A.id)
return now
"""

_LIST_SIGNATURE = Signature(keys=("index",), args=("entry_prefix", "ttl_ms"))
# Drops the index entries of silent workers; returns {now, then id, description, heartbeat of each}.
_LIST = """
local now = q_now()
redis.call('ZREMRANGEBYSCORE', K.index, '-inf', now - tonumber(A.ttl_ms))
local out = {now}
local entries = redis.call('ZRANGE', K.index, 0, -1, 'WITHSCORES')
for i = 1, #entries, 2 do
  local description = redis.call('GET', A.entry_prefix .. entries[i])
  if description then
    table.insert(out, entries[i])
    table.insert(out, description)
    table.insert(out, entries[i + 1])
  end
end
return out
"""


class WorkerRegistry:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._beat = NamedScript(client, _BEAT_SIGNATURE, QUEUE_LUA + _BEAT)
        self._list = NamedScript(client, _LIST_SIGNATURE, QUEUE_LUA + _LIST)

    @translate_errors
    def heartbeat(self, worker_id: str, description: dict[str, Any], ttl_ms: int) -> None:
        keys = {"index": self._keys.workers, "entry": self._keys.worker(worker_id)}
        self._beat(keys, {"id": worker_id, "description": json.dumps(description), "ttl_ms": ttl_ms})

    @translate_errors
    def alive(self, ttl_ms: int) -> list[dict[str, Any]]:
        """Every worker heard from within ``ttl_ms``, with ``heartbeat_at`` (Unix seconds) and
        ``heartbeat_age_seconds``."""
        raw = self._list({"index": self._keys.workers}, {"entry_prefix": self._keys.worker(""), "ttl_ms": ttl_ms})
        now, rest = int(raw[0]), raw[1:]
        workers = []
        for i in range(0, len(rest), 3):
            description = json.loads(rest[i + 1])
            description["heartbeat_at"] = float(rest[i + 2]) / 1000
            description["heartbeat_age_seconds"] = max(0.0, (now - float(rest[i + 2])) / 1000)
            workers.append(description)
        return workers

    @translate_errors
    def remove(self, worker_id: str) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.zrem(self._keys.workers, worker_id)
        pipe.delete(self._keys.worker(worker_id))
        pipe.execute()
