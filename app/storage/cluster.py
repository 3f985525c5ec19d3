"""ClusterStore: how much work waits and runs, cluster-wide, read in one script without a scan.

Jobs are counted by status from sets the job scripts keep in step with every status change
(``Keys.pending_jobs``, ``Keys.running_jobs``, ``Keys.scheduled_jobs``), so the counts equal what a
count of job records by status would give. Webhook deliveries are counted from their queue: waiting
to be taken, waiting for a retry, being attempted. Every number is a ``ZCARD`` or the head of a
sorted set; the cost does not grow with the jobs stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from app.storage import job_scripts as scripts
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import JOBS_QUEUE, WEBHOOKS_QUEUE
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript, Signature

_STATE_SIGNATURE = Signature(keys=scripts.context(), args=(*scripts.CONTEXT_ARGS, "job_prefix"))
# {pending jobs, the oldest one's wait (ms, -1: none), running jobs, scheduled jobs, then the same
# four for webhook deliveries}. Scheduled jobs that are due become pending first; entries of jobs
# that expired while they waited are dropped from the front (where, being oldest, they gather).
_STATE = """
promote(A.job_prefix)
local now = q_now()
local function oldest_live(key)
  for _ = 1, 100 do
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if not first[1] then return -1 end
    if redis.call('EXISTS', A.job_prefix .. first[1]) == 1 then return math.max(0, now - tonumber(first[2])) end
    redis.call('ZREM', key, first[1])
  end
  return -1
end
local pending_age = oldest_live(C.pending)
oldest_live(C.running)
local w = K.webhooks
local waiting = redis.call('ZRANGE', w.waiting, 0, 0, 'WITHSCORES')
local webhook_age = -1
if waiting[2] then webhook_age = math.max(0, now - tonumber(waiting[2])) end
return {redis.call('ZCARD', C.pending), pending_age, redis.call('ZCARD', C.running), redis.call('ZCARD', C.scheduled),
        redis.call('ZCARD', w.ready), webhook_age, redis.call('ZCARD', w.leased), redis.call('ZCARD', w.due)}
"""


@dataclass(frozen=True)
class QueueState:
    """A queue's work now: waiting to be taken, the oldest of those's wait, being done, due later."""

    name: str
    pending: int
    oldest_pending_seconds: float | None
    running: int
    scheduled: int


class ClusterStore:
    def __init__(self, client: redis.Redis, keys: Keys, jobs: JobStore) -> None:
        self._keys = keys
        self._context = jobs.context
        self._state = NamedScript(client, _STATE_SIGNATURE, scripts.LIBRARY + _STATE)

    @translate_errors
    def queues(self) -> list[QueueState]:
        """The jobs queue (by job status) and the webhooks queue (by delivery message), in one call."""
        raw = self._state(
            {"webhooks": self._keys.queue(WEBHOOKS_QUEUE)}, {**self._context, "job_prefix": self._keys.job("")}
        )
        numbers = [int(n) for n in raw]

        def state(name: str, pending: int, age_ms: int, running: int, scheduled: int) -> QueueState:
            return QueueState(name, pending, age_ms / 1000 if age_ms >= 0 else None, running, scheduled)

        return [state(JOBS_QUEUE, *numbers[:4]), state(WEBHOOKS_QUEUE, *numbers[4:])]
