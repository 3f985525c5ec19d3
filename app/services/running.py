"""RunService: the worker's side of a job: start it, run its algorithm within its limits, record it."""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import algorithms
from app.domain import models
from app.domain.errors import AlgorithmNotFound, InvalidRequest, JobNotFound
from app.domain.models import Attempt, Job, JobStatus
from app.infra.metrics import JOB_DURATION, JOB_RETRIES, JOBS_COMPLETED
from app.infra.shared_metrics import SharedMetrics
from app.services.catalog import Catalog
from app.services.execution import (
    CANCELLED,
    COMPLETED,
    INTERRUPTED,
    LOST,
    TIMEOUT,
    Progress,
    Run,
    account,
    is_quick,
)
from app.services.messages import webhook_message
from app.storage.jobs import JobStore
from app.storage.queue import Receipt

log = logging.getLogger(__name__)


class Runner(Protocol):
    """Runs an algorithm for a job: within ``timeout`` seconds, stopping when ``stop_asked()``, its
    progress reports going to ``progress``."""

    def __call__(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
        progress: Progress | None = None,
    ) -> Run: ...


@dataclass(frozen=True)
class JobOutcome:
    """How a run ended: completed with a result, failed with an error, or cancelled."""

    status: JobStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    error_details: str | None = None
    metadata: dict[str, Any] | None = None
    seconds: float = 0.0
    #: How a failure came about: ``failed`` (the algorithm raised) or ``timeout``.
    failure: str = "failed"
    #: The algorithm said trying again cannot help (``PermanentError``).
    permanent: bool = False


@dataclass(frozen=True)
class Requeue:
    """A run that did not end: its job goes back to the queue, to run again.

    ``count_attempt``: the run counts against ``JOB_MAX_ATTEMPTS``, as a crash does (its process
    died); a worker stopping does not count it.
    """

    count_attempt: bool
    reason: str


class RunService:
    def __init__(
        self,
        store: JobStore,
        catalog: Catalog,
        metrics: SharedMetrics,
        max_crashes: int,
        ttl_seconds: int,
        clock: Callable[[], float] = time.time,
        draw: random.Random | None = None,
        host: str | None = None,
    ) -> None:
        self._store = store
        #: Recorded with each run this process starts, so a job shows which host ran it.
        self.host = host or socket.gethostname()
        self._catalog = catalog
        self._metrics = metrics
        self._max_crashes = max_crashes
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._draw = draw or random.Random()

    def start_job(self, job_id: str, receipt: Receipt | None = None) -> Job | None:
        """Mark a queued job running and return it (its ``attempts`` number this run); None when it
        no longer exists, or when ``receipt`` (the delivery of its run message) lost its lease: the
        job is another worker's now.

        A job found ``running`` is a run cut short by a crash: it runs again, until its runs have
        crashed ``max_crashes`` times (JOB_MAX_ATTEMPTS), and is then failed (and its webhook
        sent). A finished job comes back unchanged (its message was delivered twice); one asked to
        stop is cancelled.
        """
        give_up = (
            f"the process running this job died {self._max_crashes} times "
            f"(JOB_MAX_ATTEMPTS={self._max_crashes}); not trying again"
        )
        try:
            started = self._store.start(
                job_id, self._clock(), self._max_crashes, give_up, webhook_message(job_id, 1), self.host, receipt
            )
        except JobNotFound:
            log.warning("job %s expired before it could run", job_id)
            return None
        if started is None:
            log.warning("job %s: its run message's lease ran out before it started; not taking it over", job_id)
            return None
        previous, job = started
        if job.status.finished and not previous.finished:
            log.warning("job %s ended before running: %s", job_id, job.error or job.status.value)
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=job.status.value)
        return job

    def needs_process(self, job_id: str) -> bool:
        """Whether the queued job, once started, will run in an algorithm process rather than in the
        worker's thread; asked before starting it when no process is free (one round trip).

        False when it is quick (``Algorithm.is_quick``), and when it is gone, finished, or cannot run
        (unknown algorithm, invalid params): starting it settles those at once.
        """
        queued = self._store.peek(job_id)
        if queued is None or queued.status.finished:
            return False
        try:
            algorithm = self._catalog.get(queued.algorithm)
            params = self._catalog.load_params(algorithm, queued.params)
        except (AlgorithmNotFound, InvalidRequest):
            return False
        return not is_quick(algorithm, params)

    def report_progress(self, job: Job, fraction: float, message: str) -> bool:
        """Keep what this run of ``job`` reports; False when the job has moved on (nothing kept)."""
        report = models.Progress(fraction, message or None, self._clock())
        return self._store.report_progress(job.job_id, job.attempts, report)

    def execute_job(
        self, job: Job, runner: Runner, stop_asked: Callable[[], bool], progress: Progress | None = None
    ) -> JobOutcome | Requeue:
        """Run the job's algorithm through ``runner``; touches no storage, so a Redis outage never repeats it."""
        started = time.perf_counter()

        def ended(status: JobStatus, **fields: Any) -> JobOutcome:
            return JobOutcome(status, seconds=time.perf_counter() - started, **fields)

        try:
            algorithm = self._catalog.get(job.algorithm)
            params = self._catalog.load_params(algorithm, job.params)
        except (AlgorithmNotFound, InvalidRequest) as exc:
            return ended(JobStatus.FAILED, error=exc.message)
        try:
            run = runner(algorithm, params, job.timeout or float("inf"), stop_asked, progress)
        except Exception as exc:  # the runner itself broke: the job fails, it is not left running
            log.exception("job %s could not be run", job.job_id)
            return ended(JobStatus.FAILED, error=f"the job could not be run: {type(exc).__name__}: {exc}")
        if run.outcome == INTERRUPTED:
            return Requeue(count_attempt=False, reason="its worker is stopping")
        if run.outcome == LOST:
            return Requeue(count_attempt=True, reason="its algorithm process died")
        metadata = account(self._metrics, algorithm, run)
        if run.outcome == COMPLETED:
            return ended(JobStatus.COMPLETED, result=run.result, metadata=metadata)
        if run.outcome == CANCELLED:
            return ended(JobStatus.CANCELLED)
        if run.outcome == TIMEOUT:
            error = f"TIMEOUT: the job ran longer than its limit of {job.timeout:g} s"
            return ended(JobStatus.FAILED, error=error, failure="timeout")
        log.warning("job %s failed: %s\n%s", job.job_id, run.error, run.error_details or "")
        return ended(JobStatus.FAILED, error=run.error, error_details=run.error_details, permanent=run.permanent)

    def finish_job(self, job: Job, outcome: JobOutcome, receipt: Receipt) -> None:
        """Record the outcome of this run of a job in one step with its message: a failed run its
        retry policy allows again is scheduled after its backoff; any other outcome is final (its
        webhook queued). Safe to repeat; a run superseded (its worker presumed dead) records nothing."""
        retry_in = self._retry_delay(job, outcome)
        now = self._clock()
        attempt = None
        if retry_in is not None:
            attempt = Attempt(job.attempts, job.started_at, now, outcome.failure, outcome.error)
        recorded = self._store.finish(
            job,
            outcome.status,
            now,
            receipt,
            webhook_message(job.job_id, 1) if job.webhook is not None else None,
            result=outcome.result,
            error=outcome.error,
            error_details=outcome.error_details,
            metadata=outcome.metadata,
            retry_in_ms=None if retry_in is None else round(retry_in * 1000),
            ttl_seconds=self._ttl_seconds,
            attempt=attempt,
            worker_host=self.host,
        )
        if not recorded:
            log.info(
                "job %s had moved on; outcome %s of run %d not recorded", job.job_id, outcome.status.value, job.attempts
            )
        elif retry_in is not None:
            self._metrics.inc(JOB_RETRIES, algorithm=job.algorithm)
            log.info("job %s: run %d failed; trying again in %.2f s", job.job_id, job.attempts, retry_in)
        else:
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=outcome.status.value)
            self._metrics.observe(JOB_DURATION, outcome.seconds, algorithm=job.algorithm)

    def _retry_delay(self, job: Job, outcome: JobOutcome) -> float | None:
        """Seconds until the next attempt of a failed run, or None when this outcome is final.

        Runs cut short by a crash are not failures of the algorithm: they count against
        JOB_MAX_ATTEMPTS, not against the retry policy's ``max_attempts``.
        """
        if outcome.status is not JobStatus.FAILED or outcome.permanent or job.retry is None:
            return None
        failures = job.attempts - job.crashes
        if failures >= job.retry.max_attempts:
            return None
        return job.retry.delay(failures, self._draw)

    def requeue_job(self, job: Job, requeue: Requeue, receipt: Receipt) -> None:
        """Put a run that did not end back in the queue: the job is pending again, first in line."""
        if self._store.requeue(job, receipt, requeue.count_attempt):
            log.warning("job %s goes back to the queue: %s", job.job_id, requeue.reason)

    def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these running jobs someone asked to cancel."""
        return self._store.cancel_requested(job_ids) if job_ids else set()
