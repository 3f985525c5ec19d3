"""WebhookService: what a job's webhook receives, signed, and when a failed attempt is made again.

The HTTP request itself is made by the worker (``workers.webhooks``); this module decides.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from app.domain.errors import BatchNotFound, InvalidRequest, JobNotFinished, JobNotFound, WebhookNotFound
from app.domain.models import Batch, Job, Webhook, WebhookAttempt, WebhookState, utc
from app.infra.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DURATION
from app.infra.shared_metrics import SharedMetrics
from app.services import destinations
from app.services.messages import webhook_message
from app.services.signing import Signer
from app.storage.batches import BatchStore
from app.storage.job_records import encode_attempt
from app.storage.jobs import JobStore
from app.storage.queue import Receipt
from app.storage.webhooks import BATCH_SUBJECT, JOB_SUBJECT, WebhookStore

log = logging.getLogger(__name__)

#: Event type of each finished status, in the payload's ``type``.
EVENT_TYPES = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled"}
#: Seconds allowed for resolving a webhook's host at submission.
SUBMISSION_DNS_TIMEOUT_SECONDS = 2.0
#: Times a redelivery re-reads the job when another redelivery started a series meanwhile.
_REDELIVER_TRIES = 5


@dataclass(frozen=True)
class Delivery:
    """Attempt ``number`` of a series of a webhook: a POST of ``body`` to ``url``, signed.

    ``subject``: what it is about, ("job", id) or ("batch", id).
    """

    subject: tuple[str, str]
    series: int
    number: int
    url: str
    body: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """What an attempt got: an HTTP status, or an error kind when no answer came."""

    status_code: int | None = None
    error: str | None = None
    duration: float = 0.0
    #: Seconds the receiver asked us to wait (``Retry-After`` on 429 or 503).
    retry_after: float | None = None
    #: False when trying again cannot help (the destination is forbidden).
    retryable: bool = True

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def redact_url(url: str) -> str:
    """The URL without credentials or query string, which may hold secrets."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username or parts.password:
        netloc = "***@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def new_webhook_id() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def build_payload(job: Job) -> dict:
    """The callback body of the API reference, for a finished job, plus its event ``type``."""
    completed_at = utc(job.completed_at)
    return {
        "type": EVENT_TYPES[job.status.value],
        "job_id": job.job_id,
        "status": job.status.value,
        "algorithm": job.algorithm,
        "result": job.result,
        "error": job.error,
        "metadata": job.metadata,
        "completed_at": completed_at.isoformat(timespec="milliseconds") if completed_at else None,
    }


def build_batch_payload(batch: Batch) -> dict:
    """The callback body of a batch whose jobs have all ended: how many ended how."""
    completed_at = utc(batch.completed_at)
    return {
        "type": "batch.completed",
        "batch_id": batch.batch_id,
        "total": batch.total,
        "counts": {status: batch.counts.get(status, 0) for status in ("completed", "failed", "cancelled")},
        "completed_at": completed_at.isoformat(timespec="milliseconds") if completed_at else None,
    }


def next_delay(delays: tuple[float, ...], attempt: int, outcome: Outcome) -> float | None:
    """Seconds until the attempt after ``attempt`` failed with ``outcome``; None when there is none.

    410 Gone stops at once. A ``Retry-After`` (on 429 or 503) is waited out, up to the schedule's
    longest delay.
    """
    if outcome.delivered or not outcome.retryable or outcome.status_code == 410 or attempt > len(delays):
        return None
    delay = delays[attempt - 1]
    if outcome.retry_after is not None and outcome.status_code in (429, 503):
        delay = min(max(delay, outcome.retry_after), max(delays))
    return delay


class WebhookService:
    def __init__(
        self,
        jobs: JobStore,
        store: WebhookStore,
        batches: BatchStore,
        metrics: SharedMetrics,
        retry_delays: tuple[float, ...],
        allow_private_networks: bool,
        secret: str | None = None,
        previous_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._batches = batches
        self._metrics = metrics
        self.retry_delays = retry_delays
        self.allow_private_networks = allow_private_networks
        self._secret = secret
        self._previous_secret = previous_secret
        self._signer: Signer | None = None
        self._clock = clock

    def secret(self) -> str:
        """The signing secret: ``WEBHOOK_SECRET``, else the one generated and kept in Redis."""
        if self._secret is None:
            self._secret = self._store.secret()
        return self._secret

    def signer(self) -> Signer:
        if self._signer is None:
            self._signer = Signer(self.secret(), self._previous_secret)
        return self._signer

    def check_url(self, url: str, field: str = "webhook") -> None:
        """Refuse, at submission, a webhook whose scheme or resolved address is not allowed; the
        error names ``field``."""
        try:
            # The private-network setting lifts the address rule only: the host must still resolve.
            destinations.resolve(url, self.allow_private_networks, timeout=SUBMISSION_DNS_TIMEOUT_SECONDS)
        except (destinations.ForbiddenDestination, destinations.UnresolvableDestination) as exc:
            forbidden_address = isinstance(exc, destinations.ForbiddenDestination) and "internal address" in str(exc)
            hint = " (WEBHOOK_ALLOW_PRIVATE_NETWORKS=true lifts this)" if forbidden_address else ""
            raise InvalidRequest(
                f"{field} is not allowed: {exc}{hint}",
                {"field": field, "value": redact_url(url)[:200], "errors": {field: [str(exc)]}},
            ) from None

    def redeliver(self, job: Job) -> None:
        """Start a new series of attempts (same ``webhook-id``) for a finished job's webhook."""
        for _ in range(_REDELIVER_TRIES):
            series = job.webhook.series if job.webhook is not None else 1
            answer = self._store.redeliver(job.job_id, series, webhook_message(job.job_id, series + 1))
            if answer == "conflict":  # another redelivery started a series meanwhile
                job = self._jobs.get(job.job_id)
                continue
            break
        if answer == "not_found":
            raise JobNotFound(job.job_id)
        if answer == "no_webhook":
            raise WebhookNotFound(job.job_id)
        if answer == "not_finished":
            raise JobNotFinished(job.job_id)

    def prepare(self, job_id: str, series: int) -> Delivery | None:
        """The next attempt of this series of the job's webhook, signed; None when there is none to
        make (the job expired, the series was superseded or has ended)."""
        try:
            job = self._jobs.get(job_id)
        except JobNotFound:
            job = None
        if job is None or not job.status.finished:
            return self._dropped(JOB_SUBJECT, job_id, series)
        return self._delivery((JOB_SUBJECT, job_id), job.webhook, series, build_payload(job))

    def prepare_batch(self, batch_id: str, series: int) -> Delivery | None:
        """The next attempt of a finished batch's webhook, signed; None when there is none to make."""
        try:
            batch = self._batches.get(batch_id).batch
        except BatchNotFound:
            batch = None
        if batch is None or not batch.finished:
            return self._dropped(BATCH_SUBJECT, batch_id, series)
        return self._delivery((BATCH_SUBJECT, batch_id), batch.webhook, series, build_batch_payload(batch))

    def _delivery(
        self, subject: tuple[str, str], webhook: Webhook | None, series: int, payload: dict
    ) -> Delivery | None:
        if webhook is None or webhook.series != series or webhook.state is not WebhookState.PENDING:
            return self._dropped(*subject, series)
        body = json.dumps(payload, separators=(",", ":"))
        headers = {"Content-Type": "application/json", **self.signer().headers(webhook.id, self._clock(), body)}
        return Delivery(subject, series, webhook.attempted + 1, webhook.url, body, headers)

    @staticmethod
    def _dropped(kind: str, subject_id: str, series: int) -> None:
        log.info("webhook of %s %s, series %d, dropped: gone, redelivered or done", kind, subject_id, series)
        return None

    def record(self, delivery: Delivery, outcome: Outcome, started_at: float, receipt: Receipt) -> None:
        """Log the attempt, count it, and settle its message: done, or back until the next attempt."""
        delay = next_delay(self.retry_delays, delivery.number, outcome)
        entry = WebhookAttempt(
            delivery.series, delivery.number, started_at, round(outcome.duration, 4), outcome.status_code, outcome.error
        )
        if outcome.delivered:
            state, reason, status = WebhookState.DELIVERED, None, "success"
        elif delay is not None:
            state, reason, status = WebhookState.PENDING, None, "retry"
        else:
            state, reason, status = WebhookState.FAILED, _failure_reason(delivery.number, outcome), "failed"
        next_in_ms = round(delay * 1000) if delay is not None else None
        recorded = self._store.record(
            delivery.subject,
            delivery.series,
            delivery.number,
            encode_attempt(entry),
            state.value,
            reason,
            next_in_ms,
            receipt,
            outcome.duration,
        )
        answer = outcome.status_code or outcome.error
        if recorded == 0:
            log.info(
                "webhook %s attempt %d (%s) not recorded: redelivered or expired",
                delivery.subject[1],
                delivery.number,
                answer,
            )
            return
        self._metrics.inc(WEBHOOK_DELIVERIES, status=status)  # the POST was made, whatever comes next
        self._metrics.observe(WEBHOOK_DURATION, outcome.duration)
        if recorded < 0:
            log.warning(
                "webhook %s attempt %d (%s) was made twice: its lease was lost meanwhile (a Redis outage?)",
                delivery.subject[1],
                delivery.number,
                answer,
            )
            return
        log.info(
            "webhook %s attempt %d: %s%s",
            delivery.subject[1],
            delivery.number,
            answer,
            f", next in {delay}s" if delay is not None else f" ({state.value})",
        )


def _failure_reason(attempt: int, outcome: Outcome) -> str:
    if outcome.status_code == 410:
        return "the receiver answered 410 Gone: no more attempts"
    if not outcome.retryable:
        return f"not retried: {outcome.error}"
    return f"no 2xx answer after {attempt} attempts (last: {outcome.status_code or outcome.error})"
