"""QueueStore: the broker's queues in Redis: leases, due times, priorities and wake-ups.

Every job run and every webhook attempt is a message of one of these queues; ``workers.broker``
puts Dramatiq's ``Broker`` and ``Consumer`` on top. What the layout (``keys.QueueKeys``) and its
Lua guarantee:

- **Leases, not heartbeats.** A fetched message is leased to its consumer until acknowledged,
  released or dead-lettered, or until its lease runs out (consumers renew the leases of the messages
  they hold). An expired lease makes the message deliverable again at the next fetch of any
  consumer, at the front of its priority: a SIGKILLed worker's job runs again within the lease
  time, with no maintenance pass and no dependence on other traffic.
- **Due times on the Redis server's clock.** A delayed message waits in ``due`` and becomes
  deliverable at its time (one clock for every host; with Redis persistence, across restarts).
- **Priorities.** 0 to 9, 9 first, ``DEFAULT_PRIORITY`` when not given; FIFO within a priority
  (by when the message became deliverable).
- **Wake-ups.** Whatever may make a message deliverable sooner publishes on the queue's ``wakeup``
  channel; each fetch answers when the next due time or lease end comes, so a consumer waits for
  exactly that, or a wake-up, without polling. (Redis's own blocking timeouts are ~100 ms coarse.)
- **Composable.** ``QUEUE_LUA`` is a library of Lua functions that other scripts (creating a job,
  recording its outcome) include, so a job record and its message change in one atomic step.
- **Fencing.** Each delivery of a message gets the next number (``deliveries``); acknowledging,
  releasing or renewing takes effect only with the number of the current delivery, so a consumer
  that lost its lease (presumed dead, then back) changes nothing.
- **In place.** Enqueuing a message whose id is queued replaces it: that is how a message retried
  with a delay (Dramatiq's ``Retries``, or a job's retry policy) moves from its lease back to
  ``due`` in one step, and how a duplicate submission of the same message stays one message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis

from app.storage.keys import Keys, QueueKeys
from app.storage.notifications import listen
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript, Signature, group

log = logging.getLogger(__name__)

#: The platform's queues (wire names): algorithm runs, and webhook deliveries (which job and batch
#: scripts add to when they finish one).
JOBS_QUEUE, WEBHOOKS_QUEUE = "jobs", "webhooks"
#: Priorities run from 0 to MAX_PRIORITY; higher is taken first.
MAX_PRIORITY = 9
DEFAULT_PRIORITY = 5
#: How long dead-lettered messages are kept, in ms.
DEAD_MESSAGE_TTL_MS = 7 * 24 * 3600 * 1000

#: Lua functions on one queue's keys ``q`` (a ``QueueKeys`` group). Times are the server's, in ms.
QUEUE_LUA = f"""
local Q_DEFAULT_PRIORITY, Q_MAX_PRIORITY, Q_BAND = {DEFAULT_PRIORITY}, {MAX_PRIORITY}, 1e14

-- Read once per script call: a script runs atomically, so one instant serves all of it (and
-- saves a TIME call per use: a create or finish script used up to nine).
local q_clock = nil
local function q_now()
  if not q_clock then
    local t = redis.call('TIME')
    q_clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return q_clock
end

-- Deliverable: scored by priority band, then arrival (or at the very front of its band).
local function q_ready(q, id, front)
  local priority = tonumber(redis.call('HGET', q.priorities, id) or Q_DEFAULT_PRIORITY)
  local order = 0
  if not front then order = redis.call('INCR', q.sequence) end
  redis.call('ZADD', q.ready, (Q_MAX_PRIORITY - priority) * Q_BAND + order, id)
  redis.call('ZADD', q.waiting, q_now(), id)
end

local function q_wake(q)
  redis.call('PUBLISH', q.wakeup, '1')
end

-- A new message, or a queued one replaced (its lease, if any, ends): deliverable at at_ms (server
-- clock; 0 or past: now). ``quiet``: no wake-up (the caller publishes one for many messages).
local function q_enqueue_at(q, id, data, priority, at_ms, quiet)
  redis.call('HSET', q.messages, id, data)
  if tonumber(priority) == Q_DEFAULT_PRIORITY then redis.call('HDEL', q.priorities, id)
  else redis.call('HSET', q.priorities, id, priority) end
  redis.call('ZREM', q.leased, id)
  redis.call('ZREM', q.ready, id)
  redis.call('ZREM', q.waiting, id)
  redis.call('ZREM', q.due, id)
  if tonumber(at_ms) > q_now() then redis.call('ZADD', q.due, at_ms, id)
  else q_ready(q, id, false) end
  if not quiet then q_wake(q) end
end

-- The same, deliverable after delay_ms.
local function q_enqueue(q, id, data, priority, delay_ms)
  local at = 0
  if tonumber(delay_ms) > 0 then at = q_now() + tonumber(delay_ms) end
  q_enqueue_at(q, id, data, priority, at)
end

-- Whether this delivery of the message is the current lease.
local function q_holds(q, id, delivery)
  return redis.call('ZSCORE', q.leased, id) ~= false
    and redis.call('HGET', q.deliveries, id) == tostring(delivery)
end

local function q_forget(q, id)
  redis.call('ZREM', q.leased, id)
  redis.call('ZREM', q.ready, id)
  redis.call('ZREM', q.waiting, id)
  redis.call('ZREM', q.due, id)
  redis.call('HDEL', q.messages, id)
  redis.call('HDEL', q.priorities, id)
  redis.call('HDEL', q.deliveries, id)
end

-- Done with: the message is deleted. 1, or 0 when this delivery no longer holds it.
local function q_ack(q, id, delivery)
  if not q_holds(q, id, delivery) then return 0 end
  q_forget(q, id)
  return 1
end

-- Back to the queue: deliverable again after delay_ms (at the front of its priority when front).
local function q_release(q, id, delivery, delay_ms, front)
  if not q_holds(q, id, delivery) then return 0 end
  redis.call('ZREM', q.leased, id)
  if tonumber(delay_ms) > 0 then redis.call('ZADD', q.due, q_now() + tonumber(delay_ms), id)
  else q_ready(q, id, front) end
  q_wake(q)
  return 1
end

-- Back to the queue, deliverable at at_ms (server clock).
local function q_release_at(q, id, delivery, at_ms)
  if not q_holds(q, id, delivery) then return 0 end
  redis.call('ZREM', q.leased, id)
  redis.call('ZADD', q.due, at_ms, id)
  q_wake(q)
  return 1
end

-- A message not yet delivered is dropped (a cancelled job's); one under lease is left to its holder.
local function q_remove(q, id)
  if redis.call('ZSCORE', q.leased, id) then return 0 end
  q_forget(q, id)
  return 1
end

-- Due messages and expired leases become deliverable (the latter at the front of their priority).
local function q_promote(q, now)
  local due = redis.call('ZRANGEBYSCORE', q.due, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(due) do
    redis.call('ZREM', q.due, id)
    q_ready(q, id, false)
  end
  local expired = redis.call('ZRANGEBYSCORE', q.leased, '-inf', now, 'LIMIT', 0, 1000)
  for _, id in ipairs(expired) do
    redis.call('ZREM', q.leased, id)
    q_ready(q, id, true)
  end
end
"""

_QUEUE = Signature(keys=(group("queue", QueueKeys),), args=())

# ARGV: count, lease (ms). Returns {ms until the next due time or lease end (-1: none), deliverable
# messages left, then id, data, delivery of each message now leased to the caller}.
_FETCH = """
local q, now = K.queue, q_now()
q_promote(q, now)
local out = {-1, 0}
local taken = redis.call('ZPOPMIN', q.ready, A.count)
for i = 1, #taken, 2 do
  local id = taken[i]
  redis.call('ZREM', q.waiting, id)
  local data = redis.call('HGET', q.messages, id)
  if data then
    redis.call('ZADD', q.leased, now + tonumber(A.lease_ms), id)
    table.insert(out, id)
    table.insert(out, data)
    table.insert(out, redis.call('HINCRBY', q.deliveries, id, 1))
  end
end
local next_at = false
for _, key in ipairs({q.due, q.leased}) do
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] and (not next_at or tonumber(first[2]) < next_at) then next_at = tonumber(first[2]) end
end
if next_at then out[1] = math.max(0, next_at - now) end
out[2] = redis.call('ZCARD', q.ready)
return out
"""

# ARGV: lease (ms), then id, delivery pairs. Extends the leases still held; returns the ids lost.
_RENEW = """
local q, now, lost = K.queue, q_now(), {}
for i = 1, #A.rest, 2 do
  local id = A.rest[i]
  if q_holds(q, id, A.rest[i + 1]) then redis.call('ZADD', q.leased, now + tonumber(A.lease_ms), id)
  else table.insert(lost, id) end
end
return lost
"""

_ENQUEUE = "q_enqueue(K.queue, A.id, A.data, A.priority, A.delay_ms)\n"
_ACK = "return q_ack(K.queue, A.id, A.delivery)\n"
_RELEASE = "return q_release(K.queue, A.id, A.delivery, A.delay_ms, A.front == '1')\n"

# ARGV: id, delivery, ttl (ms). Moves the message to the dead letters, dropping those past the ttl.
_DEAD_LETTER = """
local q = K.queue
if not q_holds(q, A.id, A.delivery) then return 0 end
local data, now = redis.call('HGET', q.messages, A.id), q_now()
q_forget(q, A.id)
redis.call('ZADD', q.dead, now, A.id)
redis.call('HSET', q.dead_messages, A.id, data)
for _, old in ipairs(redis.call('ZRANGEBYSCORE', q.dead, '-inf', now - tonumber(A.ttl_ms), 'LIMIT', 0, 100)) do
  redis.call('ZREM', q.dead, old)
  redis.call('HDEL', q.dead_messages, old)
end
return 1
"""


@dataclass(frozen=True)
class QueuedMessage:
    """A message to put on a queue: its id (unique in the queue), encoded data, priority and delay."""

    queue: str
    id: str
    data: bytes
    priority: int = DEFAULT_PRIORITY
    delay_ms: int = 0


@dataclass(frozen=True)
class Delivery:
    """A message leased to the caller; ``number`` fences what it may do with it."""

    id: str
    data: bytes
    number: int


@dataclass(frozen=True)
class Fetched:
    deliveries: list[Delivery]
    #: Milliseconds until the next due time or lease end (None: nothing is scheduled).
    next_in_ms: int | None
    #: Messages still deliverable after this fetch.
    more: int


@dataclass(frozen=True)
class Receipt:
    """A delivery as a job or webhook script needs it, to settle the message in the same step."""

    queue: str
    message_id: str
    delivery: int


@dataclass(frozen=True)
class QueueCounts:
    ready: int
    due: int
    leased: int
    dead: int


class QueueStore:
    """The only code that reads and writes the queues' keys (besides scripts including ``QUEUE_LUA``)."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

        def script(body: str, args: tuple[str, ...], variadic: bool = False) -> NamedScript:
            return NamedScript(client, Signature(_QUEUE.keys, args, variadic), QUEUE_LUA + body)

        self._fetch = script(_FETCH, ("count", "lease_ms"))
        self._renew = script(_RENEW, ("lease_ms",), variadic=True)
        self._enqueue = script(_ENQUEUE, ("id", "data", "priority", "delay_ms"))
        self._ack = script(_ACK, ("id", "delivery"))
        self._release = script(_RELEASE, ("id", "delivery", "delay_ms", "front"))
        self._dead_letter = script(_DEAD_LETTER, ("id", "delivery", "ttl_ms"))

    def keys(self, queue: str) -> QueueKeys:
        return self._keys.queue(queue)

    @translate_errors
    def enqueue(self, message: QueuedMessage) -> None:
        if not 0 <= message.priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be 0 to {MAX_PRIORITY}, got {message.priority}")
        self._enqueue(
            {"queue": self.keys(message.queue)},
            {"id": message.id, "data": message.data, "priority": message.priority, "delay_ms": message.delay_ms},
        )

    @translate_errors
    def fetch(self, queue: str, count: int, lease_ms: int) -> Fetched:
        """Lease up to ``count`` deliverable messages, highest priority first."""
        raw = self._fetch({"queue": self.keys(queue)}, {"count": count, "lease_ms": lease_ms})
        next_in_ms, more, rest = int(raw[0]), int(raw[1]), raw[2:]
        deliveries = [Delivery(rest[i].decode(), rest[i + 1], int(rest[i + 2])) for i in range(0, len(rest), 3)]
        return Fetched(deliveries, None if next_in_ms < 0 else next_in_ms, more)

    def renew(self, queue: str, held: dict[str, int], lease_ms: int) -> set[str]:
        """Extend the leases of ``held`` (id → delivery number); returns the ids whose lease was lost."""
        return self._renew_held(queue, held, lease_ms) if held else set()

    @translate_errors
    def _renew_held(self, queue: str, held: dict[str, int], lease_ms: int) -> set[str]:
        pairs = [item for id_, number in held.items() for item in (id_, number)]
        lost = self._renew({"queue": self.keys(queue)}, {"lease_ms": lease_ms}, pairs)
        return {id_.decode() for id_ in lost}

    @translate_errors
    def ack(self, queue: str, message_id: str, delivery: int) -> bool:
        return bool(self._ack({"queue": self.keys(queue)}, {"id": message_id, "delivery": delivery}))

    @translate_errors
    def release(self, queue: str, message_id: str, delivery: int, delay_ms: int = 0, front: bool = False) -> bool:
        """Give a held message back: deliverable after ``delay_ms`` (at the front of its priority if ``front``)."""
        args = {"id": message_id, "delivery": delivery, "delay_ms": delay_ms, "front": int(front)}
        return bool(self._release({"queue": self.keys(queue)}, args))

    @translate_errors
    def dead_letter(self, queue: str, message_id: str, delivery: int) -> bool:
        args = {"id": message_id, "delivery": delivery, "ttl_ms": DEAD_MESSAGE_TTL_MS}
        return bool(self._dead_letter({"queue": self.keys(queue)}, args))

    @translate_errors
    def counts(self, queue: str) -> QueueCounts:
        keys = self.keys(queue)
        pipe = self._client.pipeline(transaction=False)
        for key in (keys.ready, keys.due, keys.leased, keys.dead):
            pipe.zcard(key)
        return QueueCounts(*pipe.execute())

    @translate_errors
    def flush(self, queue: str) -> None:
        """Drop every message of the queue (dead letters too)."""
        keys = self.keys(queue)
        self._client.delete(*(getattr(keys, name) for name in QueueKeys.__dataclass_fields__ if name != "wakeup"))

    def listen(
        self,
        queues: Iterable[str],
        on_wake: Callable[[str], None],
        on_gap: Callable[[], None],
        stop: threading.Event,
    ) -> None:
        """Call ``on_wake(queue)`` for each wake-up published on the queues until ``stop`` is set.

        Wake-ups published while not subscribed are lost: ``on_gap`` is called each time the
        subscription is (again) confirmed, so that consumers look for themselves.
        """
        channels = {self.keys(queue).wakeup: queue for queue in queues}
        listen(self._client, channels, lambda channel, _: on_wake(channels[channel]), on_gap, stop, "queue wake-ups")
