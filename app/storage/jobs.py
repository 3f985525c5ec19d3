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
from dataclasses import asdict, dataclass
from typing import Any

import redis

from app.domain.errors import JobNotFound
from app.domain.models import Attempt, Job, JobStatus, Progress
from app.storage import job_scripts as scripts
from app.storage.batching import ScriptBatcher
from app.storage.job_records import decode, encode_input, encode_progress, encode_state, pairs, short
from app.storage.keys import Keys
from app.storage.queue import JOBS_QUEUE, WEBHOOKS_QUEUE, QueuedMessage, Receipt
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


@dataclass(frozen=True)
class Queued:
    """What a worker needs to know of a job before it starts it: its status, algorithm and params."""

    status: JobStatus
    algorithm: str
    params: Any


#: Runs kept in a job's attempt history (the newest).
HISTORY_LIMIT = 20


class JobStore:
    """The only code that knows job hash fields, indexes and TTLs."""

    def __init__(self, client: redis.Redis, keys: Keys, retention_seconds: float = 37 * 24 * 3600.0) -> None:
        """``retention_seconds``: the longest any job lives (its TTL plus how far ahead it may be
        scheduled): index entries older than that are dropped without looking at their job."""
        self._client = client
        self._keys = keys

        def script(signature: Any, body: str) -> NamedScript:
            return NamedScript(client, signature, scripts.LIBRARY + body)

        self._create = script(scripts.CREATE_SIGNATURE, scripts.CREATE)
        self._get = script(scripts.GET_SIGNATURE, scripts.GET)
        self._start = script(scripts.START_SIGNATURE, scripts.START)
        self._finish = script(scripts.FINISH_SIGNATURE, scripts.FINISH)
        self._requeue = script(scripts.REQUEUE_SIGNATURE, scripts.REQUEUE)
        self._cancel = script(scripts.CANCEL_SIGNATURE, scripts.CANCEL)
        self._retry = script(scripts.RETRY_SIGNATURE, scripts.RETRY)
        self._page = script(scripts.PAGE_SIGNATURE, scripts.PAGE)
        self._progress = script(scripts.PROGRESS_SIGNATURE, scripts.PROGRESS)
        self._batched = ScriptBatcher(client).call
        #: What every job script takes besides its own arguments (``job_scripts.CONTEXT_ARGS``).
        self.context = {
            "index_prefix": keys.job_index_prefix,
            "scheduled": keys.scheduled_jobs,
            "batch_prefix": keys.batch_prefix,
            "channel": keys.finished_channel,
            "history_limit": HISTORY_LIMIT,
            "retention": retention_seconds,
            "pending": keys.pending_jobs,
            "running": keys.running_jobs,
            "watched": keys.watched_jobs,
            "events": keys.job_events_channel,
            "owners": keys.owners,
            "stats": keys.stats_prefix,
        }

    def _keys_of(self, job_id: str, jobs_queue: str | None = None) -> dict[str, Any]:
        """The keys a job script takes: the job's, and those of the queues it may touch."""
        keys: dict[str, Any] = {"job": self._keys.of_job(job_id), "webhooks": self._keys.queue(WEBHOOKS_QUEUE)}
        if jobs_queue is not None:
            keys["jobs"] = self._keys.queue(jobs_queue)
        return keys

    def _args(self, **args: Any) -> dict[str, Any]:
        return {**self.context, **args}

    @translate_errors
    def create(
        self,
        job: Job,
        ttl_seconds: int,
        message: QueuedMessage,
        idempotency_digest: str | None = None,
        fingerprint: str = "",
        due_ms: int = 0,
    ) -> Created | None:
        """Store a new job with its TTL, index it and queue its run ``message`` (deliverable at
        ``due_ms``, Unix ms, or after ``message.delay_ms``, or now), atomically; None when the id is
        taken (nothing written).

        With an idempotency key, an earlier job made under it wins: the same request replays it,
        another one conflicts with it (nothing is queued then).
        """
        idempotency = self._keys.idempotency(job.owner, idempotency_digest) if idempotency_digest else ""
        answer = self._create(
            self._keys_of(job.job_id, message.queue),
            self._args(
                ttl=ttl_seconds,
                id=job.job_id,
                idempotency=idempotency,
                fingerprint=fingerprint,
                job_prefix=self._keys.job(""),
                message=message.data,
                priority=message.priority,
                due_ms=due_ms,
                delay_ms=message.delay_ms,
                input=encode_input(job),
            ),
            encode_state(job),
        )
        outcome = answer[0].decode()
        if outcome == "taken":
            return None
        return Created(outcome, answer[1].decode() if len(answer) > 1 else job.job_id)

    @translate_errors
    def get(self, job_id: str) -> Job:
        """The job with its webhook log and history, in one round trip."""
        state, given, output, log, history, progress = self._get(
            self._keys_of(job_id), self._args(job_prefix=self._keys.job(""))
        )
        if not state:
            raise JobNotFound(job_id)
        return decode(job_id, pairs(state), given, output, log, history, progress)

    @translate_errors
    def peek(self, job_id: str) -> Queued | None:
        """The job's status, algorithm and params, in one round trip (two reads pipelined); None when it is gone."""
        keys = self._keys.of_job(job_id)
        pipe = self._client.pipeline(transaction=False)
        pipe.hmget(keys.state, "status", "algorithm")
        pipe.get(keys.input)
        (status, algorithm), given = pipe.execute()
        if status is None or algorithm is None:
            return None
        params = json.loads(given).get("params") if given else None
        return Queued(JobStatus(status.decode()), algorithm.decode(), params)

    @translate_errors
    def start(
        self,
        job_id: str,
        now: float,
        max_crashes: int,
        give_up_error: str,
        webhook: QueuedMessage,
        worker_host: str = "",
        receipt: Receipt | None = None,
    ) -> tuple[JobStatus, Job] | None:
        """Mark the job running on ``worker_host``, one more attempt; return its previous status and the job.

        A job found running was cut short by a crash: one more crash, and after ``max_crashes`` it
        is failed with ``give_up_error`` instead. A job whose cancellation was asked is cancelled;
        a finished job comes back unchanged. Ending a job queues ``webhook`` if it has one. None
        (nothing changed) when ``receipt``'s delivery no longer holds the job's run message.
        """
        raw = self._batched(
            *self._start.call_args(
                self._keys_of(job_id, receipt.queue if receipt else JOBS_QUEUE),
                self._args(
                    id=job_id,
                    max_crashes=max_crashes,
                    give_up_error=give_up_error,
                    now=repr(now),
                    webhook_id=webhook.id,
                    webhook=webhook.data,
                    worker_host=short(worker_host),
                    delivery=receipt.delivery if receipt else "",
                ),
            )
        )
        if not raw:
            raise JobNotFound(job_id)
        if raw == [b"lost"]:
            return None
        previous, state, given, output, history = raw
        return JobStatus(previous.decode()), decode(job_id, pairs(state), given, output, (), history)

    @translate_errors
    def finish(
        self,
        job: Job,
        status: JobStatus,
        now: float,
        receipt: Receipt,
        webhook: QueuedMessage | None,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        error_details: str | None = None,
        metadata: dict[str, Any] | None = None,
        retry_in_ms: int | None = None,
        ttl_seconds: int = 0,
        attempt: Attempt | None = None,
        worker_host: str = "",
    ) -> bool:
        """Record the outcome of this attempt of a running job, in one step with its run message:
        final (message acknowledged, ``webhook`` queued: None for a job without one), or with
        ``retry_in_ms``, scheduled again (``attempt`` kept in its history, message due then, the job
        kept ``ttl_seconds`` beyond). False when the job had moved on (nothing recorded); True also
        when this run on ``worker_host`` had recorded this outcome already (a try whose answer was
        lost, sent again: its outcome is counted once, by whoever sees True)."""
        if error is None:
            output: dict[str, Any] = {"result": result, "metadata": metadata}
        else:
            output = {"error": error, "error_details": error_details} if error_details else {"error": error}
        answer = self._batched(
            *self._finish.call_args(
                self._keys_of(job.job_id, receipt.queue),
                self._args(
                    id=job.job_id,
                    attempt=job.attempts,
                    status=status.value,
                    now=repr(now),
                    output=json.dumps(output),
                    webhook_id=webhook.id if webhook is not None else "",
                    webhook=webhook.data if webhook is not None else "",
                    delivery=receipt.delivery,
                    retry_in_ms=-1 if retry_in_ms is None else retry_in_ms,
                    ttl=ttl_seconds,
                    entry=json.dumps(asdict(attempt)) if attempt is not None else "",
                    worker_host=short(worker_host),
                ),
            )
        )
        return bool(answer)

    @translate_errors
    def requeue(self, job: Job, receipt: Receipt, count_attempt: bool) -> bool:
        """Put this attempt of a running job back in the queue (pending, ahead of its priority);
        it counts as a crash if ``count_attempt``, else its attempt is given back. False when the
        job had moved on."""
        answer = self._requeue(
            self._keys_of(job.job_id, receipt.queue),
            self._args(id=job.job_id, attempt=job.attempts, count=int(count_attempt), delivery=receipt.delivery),
        )
        return bool(answer)

    @translate_errors
    def cancel(self, job_id: str, owner: str, now: float, webhook: QueuedMessage, jobs_queue: str) -> str:
        """'cancelled' (it had not started), 'requested' (it is running), 'finished' or 'not_found'.

        ``owner`` '' matches any owner."""
        return self._cancel(
            self._keys_of(job_id, jobs_queue),
            self._args(
                id=job_id,
                owner=owner,
                now=repr(now),
                webhook_id=webhook.id,
                webhook=webhook.data,
                job_prefix=self._keys.job(""),
            ),
        ).decode()

    @translate_errors
    def retry(self, job_id: str, owner: str, message: QueuedMessage, webhook_id: str, ttl_seconds: int) -> str:
        """Run a failed or cancelled job again as its next attempt (``message`` queued now, its
        webhook a new series under ``webhook_id``, the job kept ``ttl_seconds`` from now): 'ok',
        'not_found', or the status that cannot be retried. ``owner`` '' matches any owner."""
        answer = self._retry(
            self._keys_of(job_id, message.queue),
            self._args(
                id=job_id,
                owner=owner,
                message=message.data,
                webhook_id=webhook_id,
                ttl=ttl_seconds,
                job_prefix=self._keys.job(""),
            ),
        )
        return answer.decode()

    @translate_errors
    def cancel_all(self, job_ids: list[str], now: float, webhooks: list[QueuedMessage], jobs_queue: str) -> list[str]:
        """``cancel`` each job (whoever owns it), in one round trip; the answers in order."""
        pipe = self._client.pipeline(transaction=False)
        for job_id, webhook in zip(job_ids, webhooks, strict=True):
            args = self._args(
                id=job_id,
                owner="",
                now=repr(now),
                webhook_id=webhook.id,
                webhook=webhook.data,
                job_prefix=self._keys.job(""),
            )
            self._cancel(self._keys_of(job_id, jobs_queue), args, client=pipe)
        return [answer.decode() for answer in pipe.execute()]

    @translate_errors
    def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these jobs someone asked to cancel."""
        pipe = self._client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hget(self._keys.job(job_id), "cancel_requested")
        return {job_id for job_id, flag in zip(job_ids, pipe.execute(), strict=True) if flag == b"1"}

    @translate_errors
    def report_progress(self, job_id: str, attempt: int, progress: Progress) -> bool:
        """Keep what attempt ``attempt`` of a running job reports; False (nothing kept) once the job
        has moved on."""
        answer = self._progress(
            self._keys_of(job_id), self._args(id=job_id, attempt=attempt, progress=encode_progress(progress))
        )
        return bool(answer)

    @translate_errors
    def page(
        self,
        owner: str | None,
        status: str | None,
        algorithm: str | None,
        limit: int,
        newer_than: float | None = None,
        older_than: float | None = None,
        after: tuple[float, str] | None = None,
    ) -> Page:
        """A page of the owner's jobs (``owner`` None: everyone's), newest first, after ``after``
        (created_at, job id)."""
        top = repr(after[0]) if after else "+inf"
        if older_than is not None and (after is None or older_than <= after[0]):
            top = f"({older_than!r}"
        bottom = f"({newer_than!r}" if newer_than is not None else "-inf"
        raw = self._page(
            {"webhooks": self._keys.queue(WEBHOOKS_QUEUE)},
            self._args(
                owner=owner or "",
                status=status or "*",
                algorithm=algorithm or "*",
                job_prefix=self._keys.job(""),
                log_suffix=self._keys.webhook_log_suffix,
                attempts_suffix=self._keys.attempts_suffix,
                max=top,
                min=bottom,
                after=after[1] if after else "",
                after_score=repr(after[0]) if after else "0",
                limit=limit,
                input_suffix=self._keys.input_suffix,
                output_suffix=self._keys.output_suffix,
                progress_suffix=self._keys.progress_suffix,
            ),
        )
        more, last_id, last_score, entries = raw[0], raw[1], raw[2], raw[3:]
        jobs = [
            decode(
                entries[i].decode(),
                pairs(entries[i + 1]),
                entries[i + 2],
                entries[i + 3],
                entries[i + 4],
                entries[i + 5],
                entries[i + 6],
            )
            for i in range(0, len(entries), 7)
        ]
        return Page(jobs, (float(last_score), last_id.decode()) if more else None)
