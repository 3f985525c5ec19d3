"""BatchStore: jobs submitted together, created in one step and followed by counters.

A batch is the keys of ``keys.BatchKeys``: a hash (owner, times, total, one counter per status
of its jobs, and its webhook's fields, named as a job's), the list of its job ids in order, its
input (the webhook url) and its webhook log. Creating a batch of a thousand jobs is one script,
one round trip; each job is then an ordinary job whose hash names its batch, and every script that
moves a job keeps its batch's counters right (``job_scripts.count_in_batch``), ending the batch,
and queueing its webhook, when its last job ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from app.domain.errors import BatchNotFound
from app.domain.models import Batch, Job, JobStatus, Webhook, WebhookState
from app.storage import job_scripts as scripts
from app.storage.job_records import decode, decode_attempt, encode_input, encode_state, pairs
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import JOBS_QUEUE, WEBHOOKS_QUEUE, QueuedMessage
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript, Signature

_CREATE_SIGNATURE = Signature(
    keys=scripts.context(scripts.BATCH, scripts.JOBS_QUEUE),
    args=(
        *scripts.CONTEXT_ARGS,
        "id",
        "idempotency",
        "fingerprint",
        "ttl",
        "job_prefix",
        "input",
        "state",
        "webhook_message_id",
        "webhook_message",
        "batch_index",
        "created_at",
    ),
    variadic=True,  # each job: one JSON object (see BatchStore.create)
)
# Creates the batch and all its jobs, or (same Idempotency-Key) answers what it made before:
# {'created'}, {'taken'} (a job or batch id is in use: draw others), {'replay', id}, {'conflict', id}.
_CREATE = """
local bk = K.batch
local made = made_before(A.idempotency, A.fingerprint, C.batch_prefix)
if made then return made end
if redis.call('EXISTS', bk.state) == 1 then return {'taken'} end
local jobs = {}
for i, raw in ipairs(A.rest) do
  jobs[i] = cjson.decode(raw)
  if redis.call('EXISTS', A.job_prefix .. jobs[i].id) == 1 then return {'taken'} end
end
redis.call('HSET', bk.state, unpack(cjson.decode(A.state)))
if A.webhook_message_id ~= '' then
  redis.call('HSET', bk.state, 'webhook_message_id', A.webhook_message_id, 'webhook_message', A.webhook_message)
end
for _, job in ipairs(jobs) do
  local jk = {state = A.job_prefix .. job.id, input = A.job_prefix .. job.id .. ':input'}
  local status = create(jk, job.id, job.fields, job.input, job.message, job.priority, job.due_ms, job.delay_ms,
                        job.ttl, A.job_prefix, true)
  redis.call('HINCRBY', bk.state, 'n_' .. status, 1)
  redis.call('RPUSH', bk.jobs, job.id)
end
q_wake(K.jobs)
for _, key in ipairs({bk.state, bk.jobs}) do redis.call('EXPIRE', key, A.ttl) end
add(A.batch_index, A.created_at, A.id, C.batch_prefix, tonumber(A.ttl))
redis.call('SET', bk.input, A.input, 'EX', A.ttl)
if A.idempotency ~= '' then redis.call('SET', A.idempotency, A.id .. ' ' .. A.fingerprint, 'EX', A.ttl) end
promote(A.job_prefix)
return {'created'}
"""

_GET_SIGNATURE = Signature(
    keys=scripts.context(scripts.BATCH),
    args=(*scripts.CONTEXT_ARGS, "job_prefix", "offset", "limit"),
)
# The batch, and jobs offset..offset+limit-1 of it: {state, input, webhook log, total ids, then for
# each job: id, state fields, input, output, webhook log, history, progress}.
_GET = """
promote(A.job_prefix)
local bk = K.batch
local out = {redis.call('HGETALL', bk.state), redis.call('GET', bk.input), redis.call('LRANGE', bk.webhook_log, 0, -1),
             redis.call('LLEN', bk.jobs)}
local first, limit = tonumber(A.offset), tonumber(A.limit)
if limit == 0 then return out end
for _, id in ipairs(redis.call('LRANGE', bk.jobs, first, first + limit - 1)) do
  local job = A.job_prefix .. id
  table.insert(out, id)
  table.insert(out, redis.call('HGETALL', job))
  table.insert(out, redis.call('GET', job .. ':input') or '')
  table.insert(out, redis.call('GET', job .. ':output') or '')
  table.insert(out, redis.call('LRANGE', job .. ':webhook-log', 0, -1))
  table.insert(out, redis.call('LRANGE', job .. ':attempts', 0, -1))
  table.insert(out, redis.call('GET', job .. ':progress') or '')
end
return out
"""


_LIST_SIGNATURE = Signature(
    keys=scripts.context(),
    args=(*scripts.CONTEXT_ARGS, "owner", "batch_index_prefix", "max", "after", "after_score", "limit"),
)
# A page of the owner's batches ('' for every owner's), newest first, after the cursor (see
# ``newest_first``): {more, last id read, its score, then for each batch: id, state, input, webhook log}.
_LIST = """
local keys = {}
for _, owner in ipairs(owners_of(A.owner, false)) do table.insert(keys, A.batch_index_prefix .. owner) end
local out = {0, '', ''}
local function visit(id)
  local key = C.batch_prefix .. id
  local state = redis.call('HGETALL', key)
  if #state == 0 then return false end
  table.insert(out, id)
  table.insert(out, state)
  table.insert(out, redis.call('GET', key .. ':input') or '')
  table.insert(out, redis.call('LRANGE', key .. ':webhook-log', 0, -1))
  return true
end
out[1], out[2], out[3] = newest_first(keys, A.max, '-inf', A.after, A.after_score, tonumber(A.limit), visit)
return out
"""


@dataclass(frozen=True)
class BatchList:
    batches: list[Batch]
    #: Where the next page starts (created_at, batch id of the last entry read); None after the last page.
    next_after: tuple[float, str] | None


@dataclass(frozen=True)
class NewJob:
    """A job of a batch, ready to store (see ``JobService.prepare``)."""

    job: Job
    message: QueuedMessage
    ttl_seconds: int
    due_ms: int


@dataclass(frozen=True)
class BatchPage:
    batch: Batch
    jobs: list[Job]
    #: Position of the next page's first job; None after the last page.
    next_offset: int | None


class BatchStore:
    def __init__(self, client: redis.Redis, keys: Keys, jobs: JobStore) -> None:
        self._client = client
        self._keys = keys
        self._context = jobs.context
        self._create = NamedScript(client, _CREATE_SIGNATURE, scripts.LIBRARY + _CREATE)
        self._get = NamedScript(client, _GET_SIGNATURE, scripts.LIBRARY + _GET)
        self._list = NamedScript(client, _LIST_SIGNATURE, scripts.LIBRARY + _LIST)

    def _keys_for(self, batch_id: str) -> dict[str, Any]:
        return {
            "batch": self._keys.of_batch(batch_id),
            "jobs": self._keys.queue(JOBS_QUEUE),
            "webhooks": self._keys.queue(WEBHOOKS_QUEUE),
        }

    @translate_errors
    def create(
        self,
        batch: Batch,
        jobs: list[NewJob],
        webhook_message: QueuedMessage | None,
        idempotency_digest: str | None = None,
        fingerprint: str = "",
    ) -> tuple[str, str]:
        """Store the batch and its jobs, queue the jobs' messages, in one step. Returns ('created',
        id), ('replay' | 'conflict', the earlier batch's id), or ('taken', '') when an id is in use."""
        state: dict[str, Any] = {
            "owner": batch.owner,
            "created_at": repr(batch.created_at),
            "expires_at": repr(batch.expires_at),
            "total": batch.total,
        }
        if batch.webhook is not None:
            state.update(webhook_id=batch.webhook.id, webhook_state="pending", webhook_series=1)
        given = {"request_id": batch.request_id}
        if batch.webhook is not None:
            given["webhook"] = batch.webhook.url
        idempotency = self._keys.idempotency(batch.owner, "batch-" + idempotency_digest) if idempotency_digest else ""
        ttl = max(job.ttl_seconds for job in jobs)
        rest = [
            json.dumps(
                {
                    "id": new.job.job_id,
                    "fields": encode_state(new.job),
                    "input": encode_input(new.job),
                    "message": new.message.data.decode(),
                    "priority": new.message.priority,
                    "due_ms": new.due_ms,
                    "delay_ms": new.message.delay_ms,
                    "ttl": new.ttl_seconds,
                }
            )
            for new in jobs
        ]
        answer = self._create(
            self._keys_for(batch.batch_id),
            {
                **self._context,
                "id": batch.batch_id,
                "idempotency": idempotency,
                "fingerprint": fingerprint,
                "ttl": ttl,
                "job_prefix": self._keys.job(""),
                "input": json.dumps(given),
                "state": json.dumps([str(item) for pair in state.items() for item in pair]),
                "webhook_message_id": webhook_message.id if webhook_message else "",
                "webhook_message": webhook_message.data if webhook_message else "",
                "batch_index": self._keys.batch_index(batch.owner),
                "created_at": repr(batch.created_at),
            },
            rest,
        )
        outcome = answer[0].decode()
        return outcome, answer[1].decode() if len(answer) > 1 else (batch.batch_id if outcome == "created" else "")

    @translate_errors
    def get(self, batch_id: str, offset: int = 0, limit: int = 0) -> BatchPage:
        """The batch, with jobs ``offset`` to ``offset + limit - 1`` (in the order submitted)."""
        raw = self._get(
            self._keys_for(batch_id),
            {**self._context, "job_prefix": self._keys.job(""), "offset": offset, "limit": limit},
        )
        state, given, log, total_ids, rest = raw[0], raw[1], raw[2], int(raw[3]), raw[4:]
        if not state:
            raise BatchNotFound(batch_id)
        jobs = [decode(rest[i].decode(), pairs(rest[i + 1]), *rest[i + 2 : i + 7]) for i in range(0, len(rest), 7)]
        next_offset = offset + len(jobs) if limit and offset + len(jobs) < total_ids else None
        return BatchPage(_decode_batch(batch_id, pairs(state), given, log), jobs, next_offset)

    @translate_errors
    def newest(self, owner: str | None, limit: int, after: tuple[float, str] | None = None) -> BatchList:
        """A page of the owner's batches (``owner`` None: everyone's), newest first, after ``after``."""
        raw = self._list(
            {"webhooks": self._keys.queue(WEBHOOKS_QUEUE)},
            {
                **self._context,
                "owner": owner or "",
                "batch_index_prefix": self._keys.batch_index(""),
                "max": repr(after[0]) if after else "+inf",
                "after": after[1] if after else "",
                "after_score": repr(after[0]) if after else "0",
                "limit": limit,
            },
        )
        more, last_id, last_score, rest = raw[0], raw[1], raw[2], raw[3:]
        batches = [
            _decode_batch(rest[i].decode(), pairs(rest[i + 1]), rest[i + 2] or None, rest[i + 3])
            for i in range(0, len(rest), 4)
        ]
        return BatchList(batches, (float(last_score), last_id.decode()) if more else None)

    @translate_errors
    def job_ids(self, batch_id: str) -> list[str]:
        return [i.decode() for i in self._client.lrange(self._keys.of_batch(batch_id).jobs, 0, -1)]


def _decode_batch(batch_id: str, state: dict[bytes, bytes], given: bytes | None, log: list[bytes]) -> Batch:
    data = {key.decode(): value.decode() for key, value in state.items()}
    inputs = json.loads(given) if given else {}
    webhook = None
    if "webhook" in inputs:
        webhook = Webhook(
            url=inputs["webhook"],
            id=data["webhook_id"],
            state=WebhookState(data.get("webhook_state", "pending")),
            reason=data.get("webhook_reason"),
            series=int(data.get("webhook_series", 1)),
            attempts=tuple(decode_attempt(entry) for entry in log),
            attempted=int(data.get("webhook_attempt", 0)),
        )
    return Batch(
        batch_id=batch_id,
        owner=data["owner"],
        created_at=float(data["created_at"]),
        expires_at=float(data["expires_at"]),
        total=int(data["total"]),
        counts={status.value: int(data.get(f"n_{status.value}", 0)) for status in JobStatus},
        completed_at=float(data["completed_at"]) if "completed_at" in data else None,
        webhook=webhook,
        request_id=inputs.get("request_id"),
    )
