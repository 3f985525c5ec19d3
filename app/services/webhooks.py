"""WebhookService: what a job's webhook receives, signed, and when a failed attempt is made again.

The HTTP request itself is made by the worker (``workers.webhooks``); this module decides.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit, urlunsplit

from app.errors import InvalidRequest, JobNotFinished, JobNotFound, WebhookNotFound
from app.metrics import WEBHOOK_DELIVERIES, WEBHOOK_DURATION
from app.models import Job, WebhookAttempt, WebhookState, utc
from app.services import destinations
from app.services.signing import Signer
from app.shared_metrics import SharedMetrics
from app.storage.jobs import JobStore
from app.storage.webhooks import Claim, WebhookStore

log = logging.getLogger(__name__)

#: Event type of each finished status, in the payload's ``type``.
EVENT_TYPES = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled"}
#: Seconds allowed for resolving a webhook's host at submission.
SUBMISSION_DNS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Delivery:
    """One attempt to POST ``body`` to ``url``, with its signed headers."""

    claim: Claim
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
        metrics: SharedMetrics,
        retry_delays: tuple[float, ...],
        allow_private_networks: bool,
        lease_seconds: float,
        secret: str | None = None,
        previous_secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._jobs = jobs
        self._store = store
        self._metrics = metrics
        self.retry_delays = retry_delays
        self.allow_private_networks = allow_private_networks
        self._lease_ms = int(lease_seconds * 1000)
        self._secret = secret
        self._previous_secret = previous_secret
        self._clock = clock

    def secret(self) -> str:
        """The signing secret: ``WEBHOOK_SECRET``, else the one generated and kept in Redis."""
        if self._secret is None:
            self._secret = self._store.secret()
        return self._secret

    def signer(self) -> Signer:
        return Signer(self.secret(), self._previous_secret)

    def check_url(self, url: str) -> None:
        """Refuse, at submission, a webhook whose scheme or resolved address is not allowed."""
        try:
            destinations.check_scheme(url)
            if not self.allow_private_networks:
                destinations.resolve(url, allow_private=False, timeout=SUBMISSION_DNS_TIMEOUT_SECONDS)
        except (destinations.ForbiddenDestination, destinations.UnresolvableDestination) as exc:
            hint = "" if self.allow_private_networks else " (WEBHOOK_ALLOW_PRIVATE_NETWORKS=true lifts this)"
            raise InvalidRequest(
                f"webhook is not allowed: {exc}{hint}",
                {"field": "webhook", "value": redact_url(url)[:200], "errors": {"webhook": [str(exc)]}},
            ) from None

    def redeliver(self, job_id: str) -> None:
        """Start a new series of attempts (same ``webhook-id``) for a finished job's webhook."""
        answer = self._store.redeliver(job_id)
        if answer == "not_found":
            raise JobNotFound(job_id)
        if answer == "no_webhook":
            raise WebhookNotFound(job_id)
        if answer == "not_finished":
            raise JobNotFinished(job_id)

    def claim_due(self, limit: int) -> tuple[list[Claim], float | None]:
        """Up to ``limit`` due attempts, leased to the caller; and in how many seconds the next is due."""
        claims, next_in_ms = self._store.claim(self._lease_ms, limit)
        return claims, None if next_in_ms is None else next_in_ms / 1000

    def waiting(self) -> int:
        return self._store.waiting()

    def prepare(self, claim: Claim, signer: Signer) -> Delivery | None:
        """The signed delivery for a claimed attempt; None (lease released) when it is obsolete."""
        try:
            job = self._jobs.get(claim.job_id)
        except JobNotFound:
            job = None
        if job is None or job.webhook is None or job.webhook.series != claim.series or not job.status.finished:
            log.info("webhook attempt %s dropped: the job expired or was redelivered", claim.member)
            self._store.release(claim)
            return None
        body = json.dumps(build_payload(job), separators=(",", ":"))
        headers = {"Content-Type": "application/json", **signer.headers(job.webhook.id, self._clock(), body)}
        return Delivery(claim, job.webhook.url, body, headers)

    def record(self, delivery: Delivery, outcome: Outcome, started_at: float) -> None:
        """Log the attempt, count it, and schedule the next one if it failed and attempts remain."""
        claim = delivery.claim
        delay = next_delay(self.retry_delays, claim.number, outcome)
        entry = WebhookAttempt(
            claim.series, claim.number, started_at, round(outcome.duration, 4), outcome.status_code, outcome.error
        )
        if outcome.delivered:
            state, reason, status = WebhookState.DELIVERED, None, "success"
        elif delay is not None:
            state, reason, status = WebhookState.PENDING, None, "retry"
        else:
            state, reason, status = WebhookState.FAILED, _failure_reason(claim.number, outcome), "failed"
        next_in_ms = round(delay * 1000) if delay is not None else None
        recorded = self._store.record(claim, json.dumps(asdict(entry)), state.value, reason, next_in_ms)
        answer = outcome.status_code or outcome.error
        if recorded == 0:
            log.info(
                "webhook %s attempt %d (%s) not recorded: redelivered or expired", claim.job_id, claim.number, answer
            )
            return
        self._metrics.inc(WEBHOOK_DELIVERIES, status=status)  # the POST was made, whatever comes next
        self._metrics.observe(WEBHOOK_DURATION, outcome.duration)
        if recorded < 0:
            log.warning(
                "webhook %s attempt %d (%s): lease lost during a Redis outage; another dispatcher makes it again",
                claim.job_id,
                claim.number,
                answer,
            )
            return
        log.info(
            "webhook %s attempt %d: %s%s",
            claim.job_id,
            claim.number,
            answer,
            f", next in {delay}s" if delay is not None else f" ({state.value})",
        )


def _failure_reason(attempt: int, outcome: Outcome) -> str:
    if outcome.status_code == 410:
        return "the receiver answered 410 Gone: no more attempts"
    if not outcome.retryable:
        return f"not retried: {outcome.error}"
    return f"no 2xx answer after {attempt} attempts (last: {outcome.status_code or outcome.error})"
