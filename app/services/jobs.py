"""JobService: create, read, list and cancel jobs, each visible only to the key that created it."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.errors import (
    IdempotencyKeyReused,
    InvalidRequest,
    JobAlreadyFinished,
    JobNotFound,
    NotReplicated,
)
from app.metrics import JOBS_CREATED
from app.models import Job, JobStatus, Webhook
from app.services.catalog import Catalog
from app.services.messages import JOBS_QUEUE, run_job_message, webhook_message
from app.services.waiting import Waiter
from app.services.webhooks import WebhookService, new_webhook_id
from app.shared_metrics import SharedMetrics
from app.storage.jobs import JobStore
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
    """How long jobs live and may run."""

    ttl_seconds: int
    default_timeout_seconds: float
    max_timeout_seconds: float


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
    ) -> tuple[Job, bool]:
        """Validate, store the job as pending, then queue it: a job the caller sees always exists.

        Returns the job and whether it was created now (False: an earlier request with the same
        ``idempotency_key`` and the same body made it). Raises ``ALGORITHM_NOT_FOUND`` or
        ``VALIDATION_ERROR`` before anything is stored, ``IDEMPOTENCY_KEY_REUSED`` for the same key
        with another body, and ``SERVICE_UNAVAILABLE`` when Redis is down (no job was accepted) or,
        with REDIS_MIN_REPLICAS, when too few replicas have the job (it may exist: the same
        Idempotency-Key then returns it).
        """
        algorithm = self._catalog.get(algorithm_name)
        self._catalog.load_params(algorithm, params)
        timeout = self._timeout(timeout, algorithm.default_timeout)
        if webhook is not None:
            self._webhooks.check_url(webhook)
        digest = fingerprint = None
        if idempotency_key:
            digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            fingerprint = _fingerprint(algorithm.name, params, webhook, timeout)
        now = round(self._clock(), 3)  # to the millisecond the API shows, so it works as a filter bound
        for _ in range(_ID_ATTEMPTS):
            job = Job(
                job_id=self._new_id(),
                status=JobStatus.PENDING,
                algorithm=algorithm.name,
                params=params,
                created_at=now,
                expires_at=now + self._limits.ttl_seconds,
                webhook=Webhook(url=webhook, id=new_webhook_id()) if webhook else None,
                request_id=request_id,
                owner=owner,
                timeout=timeout,
            )
            created = self._store.create(
                job, self._limits.ttl_seconds, run_job_message(job.job_id), digest, fingerprint or ""
            )
            if created is not None:
                break
            log.warning("job id %s collided with an existing job; drawing another", job.job_id)
        else:
            raise RuntimeError(f"no free job id after {_ID_ATTEMPTS} attempts")
        if created.outcome == "conflict":
            raise IdempotencyKeyReused(created.job_id)
        if created.outcome != "replay":
            self._metrics.inc(JOBS_CREATED, algorithm=algorithm.name)
        if self._replicas is not None:  # a replayed job too: its first answer may have been this 503
            confirmed = self._replicas.confirm()
            if confirmed < self._replicas.replicas:
                raise NotReplicated(self._replicas.replicas, confirmed)
        if created.outcome == "replay":
            return self._store.get(created.job_id), False
        return job, True

    def get_job(self, job_id: str, owner: str) -> Job:
        """The job, if it exists and belongs to ``owner``; ``JOB_NOT_FOUND`` otherwise, either way."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        job = self._store.get(job_id)
        if job.owner != owner:
            raise JobNotFound(job_id)
        return job

    def wait_for(self, job_id: str, owner: str, seconds: float) -> Job:
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

    def list_jobs(self, owner: str, where: JobFilter, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        """A page of the owner's jobs, newest first, and the cursor of the next page (None at the end)."""
        page = self._store.page(
            owner,
            where.status,
            where.algorithm,
            limit,
            self._limits.ttl_seconds,
            newer_than=where.created_after,
            older_than=where.created_before,
            after=_decode_cursor(cursor) if cursor else None,
        )
        return page.jobs, _encode_cursor(*page.next_after) if page.next_after else None

    def cancel_job(self, job_id: str, owner: str) -> Job:
        """Cancel a pending job at once, or ask a running one to stop; ``JOB_ALREADY_FINISHED`` otherwise."""
        if not is_job_id(job_id):
            raise JobNotFound(job_id)
        answer = self._store.cancel(job_id, owner, self._clock(), webhook_message(job_id, 1), JOBS_QUEUE)
        if answer == "not_found":
            raise JobNotFound(job_id)
        job = self._store.get(job_id)
        if answer == "finished":
            raise JobAlreadyFinished(job_id, job.status.value)
        return job

    def redeliver_webhook(self, job_id: str, owner: str) -> Job:
        """Send a finished job's webhook again (a new series of attempts, same ``webhook-id``)."""
        self._webhooks.redeliver(self.get_job(job_id, owner))
        return self._store.get(job_id)

    def _timeout(self, asked: float | None, algorithm_default: float | None) -> float:
        if asked is None:  # a default never exceeds the configured maximum
            return min(algorithm_default or self._limits.default_timeout_seconds, self._limits.max_timeout_seconds)
        timeout = asked
        if timeout > self._limits.max_timeout_seconds:
            limit = self._limits.max_timeout_seconds
            raise InvalidRequest(
                f"timeout must be at most {limit:g} seconds",
                {"field": "timeout", "value": timeout, "errors": {"timeout": [f"must be at most {limit:g}"]}},
            )
        return timeout


def _fingerprint(algorithm: str, params: Any, webhook: str | None, timeout: float) -> str:
    """What makes two submissions the same request, for idempotency."""
    canonical = json.dumps([algorithm, params, webhook, timeout], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


#: A listing cursor: the creation time (Unix milliseconds, as jobs are created) and id of the last job
#: of the previous page. Every string of this form is a position in the list, so the pattern says it all.
CURSOR_PATTERN = rf"^[0-9]{{1,15}}_[0-9a-f]{{{2 * JOB_ID_BYTES}}}$"


def _encode_cursor(created_at: float, job_id: str) -> str:
    return f"{round(created_at * 1000)}_{job_id}"


def _decode_cursor(cursor: str) -> tuple[float, str]:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise InvalidRequest(
            "cursor is not one this API returned", {"field": "cursor", "errors": {"cursor": ["is not valid"]}}
        )
    milliseconds, job_id = cursor.split("_")
    return int(milliseconds) / 1000, job_id
