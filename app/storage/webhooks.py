"""WebhookStore: the outcome of each webhook attempt, redeliveries, and the signing secret.

Each series of a job's webhook (the first, then one per redelivery) is one message of the webhook
queue (``app.storage.queue``); the worker holding it makes an attempt, then ``record`` logs the
attempt, sets the webhook's state and settles the message in one step: acknowledged when done, or
given back to the queue until the next attempt is due. Nothing lives only in a process's memory,
so a restart of every worker, or of Redis (with persistence), loses no attempt and repeats none
that was recorded. The webhook fields of the job hash (state, reason, series, attempts recorded,
next attempt's time) are written here and when the job is created.
"""

from __future__ import annotations

import base64
import secrets

import redis

from app.infra.config import SECRET_PREFIX
from app.storage.events import EVENTS_LUA
from app.storage.job_records import short
from app.storage.job_scripts import JOB, WEBHOOKS_QUEUE
from app.storage.keys import Keys
from app.storage.queue import DEFAULT_PRIORITY, QUEUE_LUA, QueuedMessage, Receipt
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript, Signature
from app.storage.stats import STATS_LUA

#: Most attempts kept in a job's delivery log (redeliveries add up).
LOG_LIMIT = 50

#: What a webhook is about: a job, or a batch (whose state hash has the same webhook fields).
JOB_SUBJECT, BATCH_SUBJECT = "job", "batch"

_RECORD_SIGNATURE = Signature(
    keys=("state", "log", WEBHOOKS_QUEUE),
    args=(
        "series",
        "number",
        "entry",
        "state",
        "reason",
        "delay_ms",
        "log_limit",
        "message_id",
        "delivery",
        "job_id",
        "watched",
        "events",
        "stats",
        "outcome",
        "duration_ms",
    ),
)
# Logs attempt ``number`` of ``series``. When it is the next attempt of the current series, sets
# the state and settles the message: given back until the next attempt is due (delay_ms >= 0), or
# acknowledged. Returns 1; 0 (message dropped) when the series was superseded or the job is gone;
# -1 when that attempt had been recorded already (a delivery whose lease was lost): only the log
# is written, and the message is settled by what was decided then. The attempt counts in the
# webhooks queue's recent activity; a job's (job_id given) changes its version, which its log entry
# keeps as ``v``, and is announced to its event streams.
_RECORD = """
local jk, q = {state = K.state, webhook_log = K.log}, K.webhooks
if redis.call('HGET', jk.state, 'webhook_series') ~= A.series then
  q_ack(q, A.message_id, A.delivery)
  return 0
end
s_count(A.stats, 'webhooks', A.outcome, tonumber(A.duration_ms))
local entry = A.entry
if A.job_id ~= '' then
  local version = e_changed(jk.state, A.job_id, A.watched, A.events)
  entry = string.sub(entry, 1, -2) .. ',"v":' .. version .. '}'
end
redis.call('RPUSH', jk.webhook_log, entry)
redis.call('LTRIM', jk.webhook_log, -tonumber(A.log_limit), -1)
local ttl = redis.call('PTTL', jk.state)
if ttl > 0 then redis.call('PEXPIRE', jk.webhook_log, ttl) end
if tonumber(redis.call('HGET', jk.state, 'webhook_attempt') or '0') >= tonumber(A.number) then
  local state, next_at = unpack(redis.call('HMGET', jk.state, 'webhook_state', 'webhook_next_at'))
  if state == 'pending' and next_at then q_release_at(q, A.message_id, A.delivery, next_at)
  elseif state ~= 'pending' then q_ack(q, A.message_id, A.delivery) end
  return -1
end
redis.call('HSET', jk.state, 'webhook_attempt', A.number, 'webhook_state', A.state)
if A.reason ~= '' then redis.call('HSET', jk.state, 'webhook_reason', A.reason)
else redis.call('HDEL', jk.state, 'webhook_reason') end
if tonumber(A.delay_ms) >= 0 then
  local at = q_now() + tonumber(A.delay_ms)
  redis.call('HSET', jk.state, 'webhook_next_at', at)
  q_release_at(q, A.message_id, A.delivery, at)
else
  redis.call('HDEL', jk.state, 'webhook_next_at')
  q_ack(q, A.message_id, A.delivery)
end
return 1
"""

_REDELIVER_SIGNATURE = Signature(
    keys=(JOB, WEBHOOKS_QUEUE), args=("series", "message_id", "message", "id", "watched", "events")
)
# A new series of attempts for a finished job's webhook, due now, if the series is still ``series``.
_REDELIVER = f"""
local jk = K.job
local status = redis.call('HGET', jk.state, 'status')
if not status then return 'not_found' end
if redis.call('HEXISTS', jk.state, 'webhook_id') == 0 then return 'no_webhook' end
if status ~= 'completed' and status ~= 'failed' and status ~= 'cancelled' then return 'not_finished' end
local series = tonumber(redis.call('HGET', jk.state, 'webhook_series') or '1')
if series ~= tonumber(A.series) then return 'conflict' end
redis.call('HSET', jk.state, 'webhook_series', series + 1, 'webhook_state', 'pending', 'webhook_attempt', 0)
redis.call('HDEL', jk.state, 'webhook_reason', 'webhook_next_at')
q_enqueue(K.webhooks, A.message_id, A.message, {DEFAULT_PRIORITY}, 0)
e_changed(jk.state, A.id, A.watched, A.events)
return 'ok'
"""


class WebhookStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._record = NamedScript(client, _RECORD_SIGNATURE, QUEUE_LUA + STATS_LUA + EVENTS_LUA + _RECORD)
        self._redeliver = NamedScript(client, _REDELIVER_SIGNATURE, QUEUE_LUA + EVENTS_LUA + _REDELIVER)

    def _subject(self, kind: str, subject_id: str) -> dict[str, str]:
        keys = self._keys.of_job(subject_id) if kind == JOB_SUBJECT else self._keys.of_batch(subject_id)
        return {"state": keys.state, "log": keys.webhook_log}

    @translate_errors
    def record(
        self,
        subject: tuple[str, str],
        series: int,
        number: int,
        entry: str,
        state: str,
        reason: str | None,
        next_in_ms: int | None,
        receipt: Receipt,
        duration: float = 0.0,
    ) -> int:
        """Log the attempt (of ``duration`` seconds) of the webhook of ``subject`` (kind, id), set its
        state and settle the message (see ``_RECORD``): 1, 0 or -1."""
        keys = {**self._subject(*subject), "webhooks": self._keys.queue(receipt.queue)}
        args = {
            "series": series,
            "number": number,
            "entry": entry,
            "state": state,
            "reason": short(reason) if reason else "",
            "delay_ms": -1 if next_in_ms is None else next_in_ms,
            "log_limit": LOG_LIMIT,
            "message_id": receipt.message_id,
            "delivery": receipt.delivery,
            "job_id": subject[1] if subject[0] == JOB_SUBJECT else "",
            "watched": self._keys.watched_jobs,
            "events": self._keys.job_events_channel,
            "stats": self._keys.stats_prefix,
            "outcome": "c" if state == "delivered" else "f",
            "duration_ms": round(duration * 1000, 3),
        }
        return int(self._record(keys, args))

    @translate_errors
    def redeliver(self, job_id: str, series: int, message: QueuedMessage) -> str:
        """Start series ``series + 1`` with ``message``: 'ok', or why not: 'not_found', 'no_webhook',
        'not_finished', 'conflict' (the series had moved on: read the job again)."""
        keys = {"job": self._keys.of_job(job_id), "webhooks": self._keys.queue(message.queue)}
        args = {
            "series": series,
            "message_id": message.id,
            "message": message.data,
            "id": job_id,
            "watched": self._keys.watched_jobs,
            "events": self._keys.job_events_channel,
        }
        return self._redeliver(keys, args).decode()

    @translate_errors
    def secret(self) -> str:
        """The generated signing secret; the first caller creates it, every process then shares it."""
        candidate = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        self._client.set(self._keys.webhook_secret, candidate, nx=True)
        return self._client.get(self._keys.webhook_secret).decode()
