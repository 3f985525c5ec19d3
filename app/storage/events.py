"""Job change announcements, for event streams (``GET /jobs/{id}/events``).

Every script that changes a job calls ``EVENTS_LUA``'s ``e_changed``: the job's version (field
``v``) goes up, and if someone streams the job's events (the job is in the ``watched`` sorted set,
until the time it is scored with) its id is published on one channel. Jobs nobody watches cost one
``ZSCORE`` per change and publish nothing, so the channel carries only what some stream waits for,
and a web process holds one subscription for all its streams (``JobEventsChannel``).

A stream keeps its job watched by ``watch``ing it again before the interest lapses; nothing needs
to unwatch: a lapsed entry is dropped by the next ``watch`` of any job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import redis

from app.storage.keys import Keys
from app.storage.notifications import listen
from app.storage.redis import translate_errors

#: Lua (needs ``q_now`` from ``QUEUE_LUA``): ``e_changed(state_key, id, watched, channel)`` bumps the
#: job's version and announces it if watched; returns the new version.
EVENTS_LUA = """
local function e_changed(state_key, id, watched, channel)
  local version = redis.call('HINCRBY', state_key, 'v', 1)
  local watched_until = redis.call('ZSCORE', watched, id)
  if watched_until and tonumber(watched_until) > q_now() then redis.call('PUBLISH', channel, id) end
  return version
end
"""


class JobEventsChannel:
    """Watching jobs, and the one channel on which watched jobs' changes are announced."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._watched = keys.watched_jobs
        self.channel = keys.job_events_channel

    @translate_errors
    def watch(self, job_ids: list[str], seconds: float) -> None:
        """Have changes of ``job_ids`` announced for the next ``seconds`` at least."""
        if not job_ids:
            return
        seconds_now, micros = self._client.time()
        now_ms = seconds_now * 1000 + micros // 1000
        pipe = self._client.pipeline(transaction=False)
        pipe.zadd(self._watched, dict.fromkeys(job_ids, now_ms + int(seconds * 1000)), gt=True)  # adds new ones too
        pipe.zremrangebyscore(self._watched, "-inf", now_ms)
        pipe.execute()

    def listen(self, on_change: Callable[[str], None], on_gap: Callable[[], None], stop: threading.Event) -> None:
        """Call ``on_change(job_id)`` for each announcement until ``stop`` is set.

        Announcements made while not subscribed are lost: ``on_gap`` is called each time the
        subscription is (again) confirmed, so that streams look again for themselves.
        """
        listen(self._client, [self.channel], lambda _, data: on_change(data), on_gap, stop, "job event announcements")
