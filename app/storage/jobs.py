"""JobStore: job records in Redis and their indexes, changed atomically (``job_scripts``).

A job is a hash of its state in short fields (status, times, attempts and, when it has a webhook,
the webhook's id, state, reason and series), beside two JSON strings: its input (params, request
id, webhook url), written once, and its output (result and metadata, or error), written when it
finishes. Short values keep the hash in Redis's compact encoding: a finished PrimeChecker job takes
about 650 bytes instead of 1.4 KB. The webhook's attempt log is a list beside them
(``app.storage.webhooks`` writes it and the webhook fields). Four
sorted sets per owner index the jobs by creation time, for listing: all of them, by status, by
algorithm, by both; every status change moves the job between them in the same script. Every
change that finishes a job also queues its webhook and announces it on a channel, for requests
that wait. The scripts reach index keys from a prefix: this layout assumes one Redis, not a cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import redis

from app.errors import JobNotFound
from app.models import Job, JobStatus
from app.storage import job_scripts as scripts
from app.storage.batching import ScriptBatcher
from app.storage.job_records import decode, encode_input, encode_state, pairs, short
from app.storage.keys import Keys
from app.storage.queue import QueuedMessage, Receipt
from app.storage.redis import translate_errors
from app.storage.scripts import NamedScript


@dataclass(frozen=True)
class Created:
    """What ``create`` did: 'created', 'replay' or 'conflict' (``job_id`` of the earlier job then)."""

    outcome: str
    job_id: str | None = None


@dataclass(frozen=True)
class Page:
    jobs: list[Job]
    #: Where the next page starts (created_at, job id of the last entry read); None after the last page.
    next_after: tuple[float, str] | None


class JobStore:
    """The only code that knows job hash fields, indexes and TTLs."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._create = NamedScript(client, scripts.CREATE_SIGNATURE, scripts.LIBRARY + scripts.CREATE)
        self._get = NamedScript(client, scripts.GET_SIGNATURE, scripts.GET)
        self._start = NamedScript(client, scripts.START_SIGNATURE, scripts.LIBRARY + scripts.START)
        self._finish = NamedScript(client, scripts.FINISH_SIGNATURE, scripts.LIBRARY + scripts.FINISH)
        self._requeue = NamedScript(client, scripts.REQUEUE_SIGNATURE, scripts.LIBRARY + scripts.REQUEUE)
        self._cancel = NamedScript(client, scripts.CANCEL_SIGNATURE, scripts.LIBRARY + scripts.CANCEL)
        self._page = NamedScript(client, scripts.PAGE_SIGNATURE, scripts.LIBRARY + scripts.PAGE)
        self._batched = ScriptBatcher(client).call

    def _keys_of(self, job_id: str, jobs_queue: str | None = None, webhooks_queue: str | None = None) -> dict[str, Any]:
        """The keys a job script takes: the job's, and those of the queues it may touch."""
        keys: dict[str, Any] = {"job": self._keys.of_job(job_id)}
        if jobs_queue is not None:
            keys["jobs"] = self._keys.queue(jobs_queue)
        if webhooks_queue is not None:
            keys["webhooks"] = self._keys.queue(webhooks_queue)
        return keys

    @translate_errors
    def create(
        self,
        job: Job,
        ttl_seconds: int,
        message: QueuedMessage,
        idempotency_digest: str | None = None,
        fingerprint: str = "",
    ) -> Created | None:
        """Store a new job with its TTL, index it and queue its run ``message``, atomically; None when
        the id is taken (nothing written).

        With an idempotency key, an earlier job made under it wins: the same request replays it,
        another one conflicts with it (nothing is queued then).
        """
        idempotency = self._keys.idempotency(job.owner, idempotency_digest) if idempotency_digest else ""
        answer = self._create(
            self._keys_of(job.job_id, jobs_queue=message.queue),
            {
                "ttl": ttl_seconds,
                "index_prefix": self._keys.job_index_prefix,
                "id": job.job_id,
                "idempotency": idempotency,
                "fingerprint": fingerprint,
                "job_prefix": self._keys.job(""),
                "message": message.data,
                "priority": message.priority,
                "delay_ms": message.delay_ms,
                "input": encode_input(job),
            },
            encode_state(job),
        )
        outcome = answer[0].decode()
        if outcome == "taken":
            return None
        return Created(outcome, answer[1].decode() if len(answer) > 1 else job.job_id)

    @translate_errors
    def get(self, job_id: str) -> Job:
        """The job with its webhook log, in one round trip."""
        state, given, output, log = self._get(self._keys_of(job_id), {})
        if not state:
            raise JobNotFound(job_id)
        return decode(job_id, pairs(state), given, output, log)

    @translate_errors
    def start(
        self,
        job_id: str,
        now: float,
        max_attempts: int,
        give_up_error: str,
        webhook: QueuedMessage,
        worker_host: str = "",
    ) -> tuple[JobStatus, Job]:
        """Mark the job running on ``worker_host``, one more attempt; return its previous status and the job.

        A job whose cancellation was asked is cancelled instead; one that already had
        ``max_attempts`` runs is failed with ``give_up_error``; a finished job comes back unchanged.
        Ending a job queues ``webhook`` if it has one.
        """
        raw = self._batched(
            *self._start.call_args(
                self._keys_of(job_id, webhooks_queue=webhook.queue),
                {
                    "id": job_id,
                    "max_attempts": max_attempts,
                    "give_up_error": give_up_error,
                    "now": repr(now),
                    "index_prefix": self._keys.job_index_prefix,
                    "channel": self._keys.finished_channel,
                    "webhook_id": webhook.id,
                    "webhook": webhook.data,
                    "worker_host": short(worker_host),
                },
            )
        )
        if not raw:
            raise JobNotFound(job_id)
        previous, state, given, output = raw
        return JobStatus(previous.decode()), decode(job_id, pairs(state), given, output)

    @translate_errors
    def finish(
        self,
        job: Job,
        status: JobStatus,
        now: float,
        receipt: Receipt,
        webhook: QueuedMessage,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_details: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> bool:
        """Record the outcome of this attempt of a running job, acknowledge its run message and
        queue its ``webhook``, in one step; False when the job had moved on (not recorded)."""
        if error is None:
            output: dict[str, Any] = {"result": result, "metadata": metadata}
        else:
            output = {"error": error, "error_details": error_details} if error_details else {"error": error}
        answer = self._batched(
            *self._finish.call_args(
                self._keys_of(job.job_id, receipt.queue, webhook.queue),
                {
                    "id": job.job_id,
                    "attempt": job.attempts,
                    "index_prefix": self._keys.job_index_prefix,
                    "channel": self._keys.finished_channel,
                    "status": status.value,
                    "now": repr(now),
                    "output": json.dumps(output),
                    "webhook_id": webhook.id,
                    "webhook": webhook.data,
                    "delivery": receipt.delivery,
                },
            )
        )
        return bool(answer)

    @translate_errors
    def requeue(self, job: Job, receipt: Receipt, count_attempt: bool) -> bool:
        """Put this attempt of a running job back in the queue (pending, ahead of its priority);
        its attempt is given back unless ``count_attempt``. False when the job had moved on."""
        answer = self._requeue(
            self._keys_of(job.job_id, receipt.queue),
            {
                "id": job.job_id,
                "attempt": job.attempts,
                "index_prefix": self._keys.job_index_prefix,
                "count": int(count_attempt),
                "delivery": receipt.delivery,
            },
        )
        return bool(answer)

    @translate_errors
    def cancel(self, job_id: str, owner: str, now: float, webhook: QueuedMessage, jobs_queue: str) -> str:
        """'cancelled' (it was pending), 'requested' (it is running), 'finished' or 'not_found'."""
        return self._cancel(
            self._keys_of(job_id, jobs_queue, webhook.queue),
            {
                "id": job_id,
                "owner": owner,
                "now": repr(now),
                "index_prefix": self._keys.job_index_prefix,
                "channel": self._keys.finished_channel,
                "webhook_id": webhook.id,
                "webhook": webhook.data,
            },
        ).decode()

    @translate_errors
    def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these jobs someone asked to cancel."""
        pipe = self._client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self._keys.job(job_id), "cancel_requested")
        return {job_id for job_id, flag in zip(job_ids, pipe.execute(), strict=True) if flag == b"1"}

    @translate_errors
    def page(
        self,
        owner: str,
        status: str | None,
        algorithm: str | None,
        limit: int,
        ttl_seconds: int,
        newer_than: float | None = None,
        older_than: float | None = None,
        after: tuple[float, str] | None = None,
    ) -> Page:
        """A page of the owner's jobs, newest first, after ``after`` (created_at, job id)."""
        top = repr(after[0]) if after else "+inf"
        if older_than is not None and (after is None or older_than <= after[0]):
            top = f"({older_than!r}"
        bottom = f"({newer_than!r}" if newer_than is not None else "-inf"
        raw = self._page(
            {"index": self._keys.job_index(owner, status, algorithm)},
            {
                "job_prefix": self._keys.job(""),
                "log_suffix": self._keys.webhook_log_suffix,
                "max": top,
                "min": bottom,
                "after": after[1] if after else "",
                "after_score": repr(after[0]) if after else "0",
                "limit": limit,
                "ttl": ttl_seconds,
                "input_suffix": self._keys.input_suffix,
                "output_suffix": self._keys.output_suffix,
            },
        )
        more, last_id, last_score, entries = raw[0], raw[1], raw[2], raw[3:]
        jobs = [
            decode(entries[i].decode(), pairs(entries[i + 1]), entries[i + 2], entries[i + 3], entries[i + 4])
            for i in range(0, len(entries), 5)
        ]
        return Page(jobs, (float(last_score), last_id.decode()) if more else None)
