"""BatchService: submit up to a thousand jobs at once, follow them together, cancel what is left.

Every job of a batch is validated before anything is stored: one invalid job rejects the batch
with every error, by index and field (``jobs[17].params.number``). The batch and its jobs are then
created in one Redis step; each job is an ordinary job (visible at ``/jobs/{id}``), and the batch
counts its jobs per status and sends its own webhook once the last one has ended.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.domain.errors import AlgorithmNotFound, BatchNotFound, IdempotencyKeyReused, InvalidRequest
from app.domain.models import Batch, JobStatus, Webhook
from app.infra.metrics import JOBS_CREATED
from app.infra.shared_metrics import SharedMetrics
from app.services.jobs import JOB_ID_BYTES, JobRequest, JobService, decode_cursor, encode_cursor, is_job_id
from app.services.messages import JOBS_QUEUE, batch_webhook_message, webhook_message
from app.services.webhooks import WebhookService, new_webhook_id
from app.storage.batches import BatchPage, BatchStore, NewJob
from app.storage.jobs import JobStore
from app.storage.queue import MAX_PRIORITY

log = logging.getLogger(__name__)

#: Jobs a batch may hold.
MAX_BATCH_JOBS = 1000
#: Fresh ids tried when one collides.
_ID_ATTEMPTS = 5


@dataclass(frozen=True)
class CreatedBatch:
    batch: Batch
    job_ids: list[str]
    created: bool  # False: an earlier request with the same Idempotency-Key and body made it


class BatchService:
    def __init__(
        self,
        store: BatchStore,
        job_store: JobStore,
        jobs: JobService,
        webhooks: WebhookService,
        metrics: SharedMetrics,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: secrets.token_hex(JOB_ID_BYTES),
    ) -> None:
        self._store = store
        self._job_store = job_store
        self._jobs = jobs
        self._webhooks = webhooks
        self._metrics = metrics
        self._clock = clock
        self._new_id = new_id

    def create_batch(
        self,
        requests: list[JobRequest],
        owner: str,
        webhook: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        max_priority: int = MAX_PRIORITY,
        fingerprint_of: Any = None,
    ) -> CreatedBatch:
        """Validate every job, then store the batch and its jobs in one step.

        ``fingerprint_of`` is what makes two requests the same (the request body), for
        ``idempotency_key``.

        Raises ``VALIDATION_ERROR`` naming every invalid field by its job's index, ``FORBIDDEN``
        for a priority above ``max_priority``, ``IDEMPOTENCY_KEY_REUSED`` for the same key with
        another body.
        """
        if webhook is not None:
            self._webhooks.check_url(webhook)
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest() if idempotency_key else None
        fingerprint = hashlib.sha256(json.dumps(fingerprint_of, sort_keys=True, default=str).encode()).hexdigest()
        for _ in range(_ID_ATTEMPTS):
            batch_id = self._new_id()
            new_jobs = self._prepare_all(requests, owner, request_id, max_priority, batch_id)
            now = round(self._clock(), 3)
            batch = Batch(
                batch_id=batch_id,
                owner=owner,
                created_at=now,
                expires_at=max(new.job.expires_at for new in new_jobs),
                total=len(new_jobs),
                counts={},
                webhook=Webhook(url=webhook, id=new_webhook_id()) if webhook else None,
                request_id=request_id,
            )
            message = batch_webhook_message(batch_id, 1) if webhook else None
            outcome, made = self._store.create(batch, new_jobs, message, digest, fingerprint)
            if outcome != "taken":
                break
            log.warning("batch or job id collided with an existing one; drawing others")
        else:
            raise RuntimeError(f"no free batch id after {_ID_ATTEMPTS} attempts")
        if outcome == "conflict":
            raise IdempotencyKeyReused(made)
        if outcome == "replay":
            page = self._store.get(made)
            return CreatedBatch(page.batch, self._store.job_ids(made), created=False)
        counts: dict[str, int] = {status.value: 0 for status in JobStatus}
        for new in new_jobs:
            self._metrics.inc(JOBS_CREATED, algorithm=new.job.algorithm)
            counts[new.job.status.value] += 1
        batch = dataclasses.replace(batch, counts=counts)
        return CreatedBatch(batch, [new.job.job_id for new in new_jobs], created=True)

    def _prepare_all(
        self, requests: list[JobRequest], owner: str, request_id: str | None, max_priority: int, batch_id: str
    ) -> list[NewJob]:
        prepared: list[NewJob] = []
        errors: dict[str, list[str]] = {}
        for index, request in enumerate(requests):
            path = f"jobs[{index}]."
            try:
                job = self._jobs.prepare(request, owner, request_id, max_priority, path, batch_id, fingerprint=False)
            except AlgorithmNotFound as exc:
                errors[f"{path}algorithm"] = [
                    f"is not an algorithm (available: {', '.join(exc.details.get('available_algorithms', []))})"
                ]
            except InvalidRequest as exc:
                for field, messages in (
                    exc.details.get("errors") or {exc.details.get("field", path): [exc.message]}
                ).items():
                    errors.setdefault(field, []).extend(messages)
            else:
                prepared.append(NewJob(job.job, job.message, job.ttl_seconds, job.due_ms))
        if errors:
            first = next(iter(errors))
            raise InvalidRequest(
                f"{len(errors)} invalid field{'s' if len(errors) > 1 else ''} in the batch; first: {first} "
                f"{errors[first][0]}",
                {"field": first, "errors": errors},
            )
        return prepared

    def list_batches(self, owner: str | None, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        """A page of the owner's batches (None: everyone's), newest first, and the next page's cursor."""
        page = self._store.newest(owner, limit, decode_cursor(cursor) if cursor else None)
        return page.batches, encode_cursor(*page.next_after) if page.next_after else None

    def get_batch(self, batch_id: str, owner: str | None, offset: int = 0, limit: int = 0) -> BatchPage:
        """The batch with a page of its jobs; ``BATCH_NOT_FOUND`` unless it exists and is ``owner``'s
        (None: anyone's)."""
        if not is_job_id(batch_id):
            raise BatchNotFound(batch_id)
        page = self._store.get(batch_id, offset, limit)
        if owner and page.batch.owner != owner:
            raise BatchNotFound(batch_id)
        return page

    def cancel_batch(self, batch_id: str, owner: str | None) -> Batch:
        """Cancel every job of the batch not yet running, ask those running to stop (one round trip
        for all of them); finished jobs stay as they are."""
        self.get_batch(batch_id, owner)
        job_ids = self._store.job_ids(batch_id)
        messages = [webhook_message(job_id, 1) for job_id in job_ids]
        self._job_store.cancel_all(job_ids, self._clock(), messages, JOBS_QUEUE)
        return self._store.get(batch_id).batch
