"""JobService: create, read, list, cancel and retry jobs, each visible only to the key that created
it, and to admins (who pass ``owner=None``: any owner)."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import algorithms
from app.domain.errors import (
    AlgorithmNotFound,
    Forbidden,
    IdempotencyKeyReused,
    InvalidRequest,
    JobAlreadyFinished,
    JobNotFound,
    JobNotRetryable,
    NotReplicated,
)
from app.domain.models import Job, JobStatus, Webhook
from app.infra.metrics import JOBS_CREATED
from app.infra.shared_metrics import SharedMetrics
from app.services.catalog import Catalog
from app.services.events import Event, EventHub, job_events
from app.services.execution import is_quick
from app.services.messages import JOBS_QUEUE, run_job_message, webhook_message
from app.services.waiting import Waiter
from app.services.webhooks import WebhookService, new_webhook_id
from app.storage.jobs import JobStore
from app.storage.queue import DEFAULT_PRIORITY, MAX_PRIORITY, QueuedMessage
from app.storage.replication import ReplicaCheck

log = logging.getLogger(__name__)

#: Job ids are 12 lowercase hex characters (48 random bits), as the API reference shows.
JOB_ID_BYTES = 6
#: Fresh ids tried before giving up; a collision is rare, five in a row means something else is wrong.
_ID_ATTEMPTS = 5


def is_job_id(value: str) -> bool:
    return len(value) == 2 * JOB_ID_BYTES and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class JobLimits:
    """How long jobs live and may run, and how far ahead they may be scheduled."""

    ttl_seconds: int
    default_timeout_seconds: float
    max_timeout_seconds: float
    schedule_horizon_seconds: float = 30 * 24 * 3600.0


#: How far in the past a ``run_at`` may lie (it then runs now): clocks and queues are not exact.
RUN_AT_PAST_SECONDS = 60.0


@dataclass(frozen=True)
class JobRequest:
    """What a submission asks for (``POST /jobs``, or one job of a batch)."""

    algorithm: str
    params: Any
    webhook: str | None = None
    timeout: float | None = None
    retry: algorithms.RetryPolicy | None = None
    #: Unix seconds when it should run (None: now, or after ``delay_seconds``).
    run_at: float | None = None
    delay_seconds: float | None = None
    priority: int | None = None


@dataclass(frozen=True)
class PreparedJob:
    """A validated submission, ready to store: the job, its run message and its life in Redis."""

    job: Job
    message: QueuedMessage
    ttl_seconds: int
    #: When it is due (Unix ms, server clock), or 0 (now, or after ``message.delay_ms``).
    due_ms: int
    fingerprint: str


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    algorithm: str | None = None
    created_after: float | None = None
    created_before: float | None = None


class JobService:
    def __init__(
        self,
        store: JobStore,
        catalog: Catalog,
        webhooks: WebhookService,
        metrics: SharedMetrics,
        limits: JobLimits,
        waiter: Waiter,
        events: EventHub,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: secrets.token_hex(JOB_ID_BYTES),
        replicas: ReplicaCheck | None = None,
    ) -> None:
        self._store = store
        #: With REDIS_MIN_REPLICAS: a job is answered only once that many replicas have it.
        self._replicas = replicas
        self._catalog = catalog
        self._webhooks = webhooks
        self._metrics = metrics
        self._limits = limits
        self._waiter = waiter
        self._events = events
        self._clock = clock
        self._new_id = new_id

    def create_job(
        self,
        algorithm_name: str,
        params: Any,
        owner: str,
        webhook: str | None = None,
        timeout: float | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        retry: algorithms.RetryPolicy | None = None,
        run_at: float | None = None,
        delay_seconds: float | None = None,
        priority: int | None = None,
        max_priority: int = MAX_PRIORITY,
    ) -> tuple[Job, bool]:
        """Validate, store the job as pending (or scheduled), then queue it: a job the caller sees
        always exists.

        Returns the job and whether it was created now (False: an earlier request with the same
        ``idempotency_key`` and the same body made it). Raises ``ALGORITHM_NOT_FOUND``,
        ``VALIDATION_ERROR`` or ``FORBIDDEN`` (a priority above ``max_priority``, the key's limit)
        before anything is stored, ``IDEMPOTENCY_KEY_REUSED`` for the same key with another body,
        and ``SERVICE_UNAVAILABLE`` when Redis is down (no job was accepted) or, with
        REDIS_MIN_REPLICAS, when too few replicas have the job (it may exist: the same
        Idempotency-Key then returns it).
        """
        request = JobRequest(algorithm_name, params, webhook, timeout, retry, run_at, delay_seconds, priority)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else None
        for _ in range(_ID_ATTEMPTS):
            prepared = self.prepare(request, owner, request_id, max_priority)
            created = self._store.create(
                prepared.job,
                prepared.ttl_seconds,
                prepared.message,
                digest,
                prepared.fingerprint if digest else "",
                prepared.due_ms,
            )
            if created is not None:
                break
            log.warning("job id %s collided with an existing job; drawing another", prepared.job.job_id)
        else:
            raise RuntimeError(f"no free job id after {_ID_ATTEMPTS} attempts")
        if created.outcome == "conflict":
            raise IdempotencyKeyReused(created.job_id)
        if created.outcome != "replay":
            self._metrics.inc(JOBS_CREATED, algorithm=prepared.job.algorithm)
        if self._replicas is not None:  # a replayed job too: its first answer may have been this 503
            confirmed = self._replicas.confirm()
            if confirmed < self._replicas.replicas:
                raise NotReplicated(self._replicas.replicas, confirmed)
        if created.outcome == "replay":
            return self._store.get(created.job_id), False
        return prepared.job, True

    def prepare(
        self,
        request: JobRequest,
        owner: str,
        request_id: str | None,
        max_priority: int = MAX_PRIORITY,
        path: str = "",
        batch_id: str | None = None,
        fingerprint: bool = True,
    ) -> PreparedJob:
        """Validate a submission and build its job (with a fresh id) and run message, storing
        nothing. Errors name fields under ``path`` (``jobs[3].`` in a batch). ``fingerprint``: what
        makes it the same request, for an Idempotency-Key (a batch has one for all its jobs)."""
        algorithm = self._catalog.get(request.algorithm)
        params = self._catalog.load_params(algorithm, request.params, f"{path}params")
        timeout = self._timeout(request.timeout, algorithm.default_timeout, path)
        if request.webhook is not None:
            self._webhooks.check_url(request.webhook, f"{path}webhook")
        priority = DEFAULT_PRIORITY if request.priority is None else request.priority
        if priority > max_priority:
            raise Forbidden(
                f"{path}priority {priority} is above this API key's limit of {max_priority}",
                {"field": f"{path}priority", "max_priority": max_priority},
            )
        retry = request.retry if request.retry is not None else algorithm.retry
        now = round(self._clock(), 3)  # to the millisecond the API shows, so it works as a filter bound
        due_ms, delay_ms, wait = self._due(request, now, path)
        job = Job(
            job_id=self._new_id(),
            status=JobStatus.SCHEDULED if wait > 0 else JobStatus.PENDING,
            algorithm=algorithm.name,
            params=request.params,
            created_at=now,
            expires_at=now + wait + self._limits.ttl_seconds,
            webhook=Webhook(url=request.webhook, id=new_webhook_id()) if request.webhook else None,
            request_id=request_id,
            owner=owner,
            timeout=timeout,
            priority=priority,
            next_run_at=now + wait if wait > 0 else None,
            retry=retry,
            batch_id=batch_id,
        )
        digest = _fingerprint(request, algorithm.name, timeout, retry, priority) if fingerprint else ""
        message = run_job_message(job.job_id, priority, delay_ms, quick=is_quick(algorithm, params))
        return PreparedJob(job, message, math.ceil(wait + self._limits.ttl_seconds), due_ms, digest)

    def _due(self, request: JobRequest, now: float, path: str) -> tuple[int, int, float]:
        """(due time in Unix ms or 0, delay in ms or 0, seconds from now until due) of a submission."""
        horizon = self._limits.schedule_horizon_seconds
        if request.run_at is not None:
            wait = request.run_at - now
            if wait < -RUN_AT_PAST_SECONDS:
                raise _invalid(f"{path}run_at", f"is more than {RUN_AT_PAST_SECONDS:g} s in the past")
            if wait > horizon:
                raise _invalid(f"{path}run_at", f"is more than {horizon:.0f} s (SCHEDULE_HORIZON_SECONDS) ahead")
            return (round(request.run_at * 1000), 0, wait) if wait > 0 else (0, 0, 0.0)
        if request.delay_seconds is not None and request.delay_seconds > 0:
            if request.delay_seconds > horizon:
                raise _invalid(f"{path}delay_seconds", f"must be at most {horizon:.0f} (SCHEDULE_HORIZON_SECONDS)")
            return 0, round(request.delay_seconds * 1000), request.delay_seconds
        return 0, 0, 0.0

    def get_job(self, job_id: str, owner: str | None) -> Job:
        """The job, if it exists and belongs to ``owner`` (None: anyone's); ``JOB_NOT_FOUND`` otherwise,
        either way."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        job = self._store.get(job_id)
        if owner is not None and job.owner != owner:
            raise JobNotFound(job_id)
        return job

    def wait_for(self, job_id: str, owner: str | None, seconds: float) -> Job:
        """The job once it has finished, or as it is after ``seconds`` (at most a minute)."""
        job = self.get_job(job_id, owner)
        if not job.status.finished and seconds > 0:
            self._waiter.wait(job_id, seconds, lambda: self._finished(job_id))
            job = self.get_job(job_id, owner)
        return job

    def _finished(self, job_id: str) -> bool:
        try:
            return self._store.get(job_id).status.finished
        except JobNotFound:
            return True  # expired meanwhile: nothing more to wait for

    def stream_events(self, job_id: str, owner: str | None, last_event_id: int | None) -> Iterator[Event | None]:
        """The job's live events (``app.services.events``), from its current state; ``JOB_NOT_FOUND``,
        or ``SERVICE_UNAVAILABLE`` when this process holds too many streams, before any is sent."""
        self.get_job(job_id, owner)
        subscription = self._events.subscribe(job_id)
        try:
            first = self.get_job(job_id, owner)  # read after subscribing: no change falls between
        except BaseException:
            subscription.close()
            raise
        return job_events(lambda: self._store.get(job_id), subscription, first, last_event_id)

    def list_jobs(
        self, owner: str | None, where: JobFilter, limit: int, cursor: str | None
    ) -> tuple[list[Job], str | None]:
        """A page of the owner's jobs (None: everyone's), newest first, and the cursor of the next
        page (None at the end)."""
        page = self._store.page(
            owner,
            where.status,
            where.algorithm,
            limit,
            newer_than=where.created_after,
            older_than=where.created_before,
            after=decode_cursor(cursor) if cursor else None,
        )
        return page.jobs, encode_cursor(*page.next_after) if page.next_after else None

    def cancel_job(self, job_id: str, owner: str | None) -> Job:
        """Cancel a pending job at once, or ask a running one to stop; ``JOB_ALREADY_FINISHED`` otherwise."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        answer = self._store.cancel(job_id, owner or "", self._clock(), webhook_message(job_id, 1), JOBS_QUEUE)
        if answer == "not_found":
            raise JobNotFound(job_id)
        job = self._store.get(job_id)
        if answer == "finished":
            raise JobAlreadyFinished(job_id, job.status.value)
        return job

    def redeliver_webhook(self, job_id: str, owner: str | None) -> Job:
        """Send a finished job's webhook again (a new series of attempts, same ``webhook-id``)."""
        self._webhooks.redeliver(self.get_job(job_id, owner))
        return self._store.get(job_id)

    def retry_job(self, job_id: str, owner: str | None) -> Job:
        """Run a failed or cancelled job again, as its next attempt (pending now, its priority kept,
        kept ``JOB_TTL_SECONDS`` from now); its webhook, if any, will send the new outcome as a new
        event (a new ``webhook-id``). ``JOB_NOT_RETRYABLE`` for a job in any other status."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        job = self.get_job(job_id, owner)
        answer = self._store.retry(
            job_id,
            owner or "",
            run_job_message(job_id, job.priority, quick=self._is_quick(job)),
            new_webhook_id(),
            self._limits.ttl_seconds,
        )
        if answer == "not_found":
            raise JobNotFound(job_id)
        if answer != "ok":
            raise JobNotRetryable(job_id, answer)
        return self._store.get(job_id)

    def _is_quick(self, job: Job) -> bool:
        """Whether a stored job is quick to run (False when its algorithm or params no longer load)."""
        try:
            algorithm = self._catalog.get(job.algorithm)
            return is_quick(algorithm, self._catalog.load_params(algorithm, job.params))
        except (AlgorithmNotFound, InvalidRequest):
            return False

    def _timeout(self, asked: float | None, algorithm_default: float | None, path: str = "") -> float:
        if asked is None:  # a default never exceeds the configured maximum
            return min(algorithm_default or self._limits.default_timeout_seconds, self._limits.max_timeout_seconds)
        timeout = asked
        if timeout > self._limits.max_timeout_seconds:
            raise _invalid(f"{path}timeout", f"must be at most {self._limits.max_timeout_seconds:g}", timeout)
        return timeout


def _invalid(field: str, problem: str, value: Any = None) -> InvalidRequest:
    details: dict[str, Any] = {"field": field, "errors": {field: [problem]}}
    if value is not None:
        details["value"] = value
    return InvalidRequest(f"{field} {problem}", details)


def _fingerprint(
    request: JobRequest, algorithm: str, timeout: float, retry: algorithms.RetryPolicy | None, priority: int
) -> str:
    """What makes two submissions the same request, for idempotency (``run_at`` as asked, so that
    a retried submission with a delay is the same request)."""
    retry_fields = retry.as_dict() if retry is not None else None
    asked = [algorithm, request.params, request.webhook, timeout, retry_fields, request.run_at, request.delay_seconds]
    canonical = json.dumps([*asked, priority], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


#: A listing cursor: the creation time (Unix milliseconds, as jobs are created) and id of the last job
#: of the previous page. Every string of this form is a position in the list, so the pattern says it all.
CURSOR_PATTERN = rf"^[0-9]{{1,15}}_[0-9a-f]{{{2 * JOB_ID_BYTES}}}$"


def encode_cursor(created_at: float, job_id: str) -> str:
    return f"{round(created_at * 1000)}_{job_id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidRequest(
            "cursor is not one this API returned", {"field": "cursor", "errors": {"cursor": ["is not valid"]}}
        )
    milliseconds, job_id = cursor.split("_")
    return int(milliseconds) / 1000, job_id
