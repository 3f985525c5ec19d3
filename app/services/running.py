"""RunService: the worker's side of a job: start it, run its algorithm within its limits, record it."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import algorithms
from app.errors import AlgorithmNotFound, InvalidRequest, JobNotFound
from app.metrics import JOB_DURATION, JOBS_COMPLETED
from app.models import Job, JobStatus
from app.services.catalog import Catalog
from app.services.execution import CANCELLED, COMPLETED, INTERRUPTED, LOST, TIMEOUT, Run, account
from app.services.messages import webhook_message
from app.shared_metrics import SharedMetrics
from app.storage.jobs import JobStore
from app.storage.queue import Receipt

log = logging.getLogger(__name__)


class Runner(Protocol):
    """Runs an algorithm for a job: within ``timeout`` seconds, and stopping when ``stop_asked()``."""

    def __call__(
        self,
        algorithm: algorithms.Algorithm,
        params: dict[str, Any],
        timeout: float,
        stop_asked: Callable[[], bool],
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
        max_attempts: int,
        clock: Callable[[], float] = time.time,
        host: str | None = None,
    ) -> None:
        self._store = store
        #: Recorded with each run this process starts, so a job shows which host ran it.
        self.host = host or socket.gethostname()
        self._catalog = catalog
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._clock = clock

    def start_job(self, job_id: str) -> Job | None:
        """Mark a queued job running and return it (its ``attempts`` number this run); None when it
        no longer exists.

        A job found ``running`` is a run cut short by a crash: it runs again, up to
        ``max_attempts`` runs, after which it is failed (and its webhook sent). A finished job comes
        back unchanged (its message was delivered twice); one asked to stop is cancelled.
        """
        give_up = (
            f"the process running this job died {self._max_attempts} times "
            f"(JOB_MAX_ATTEMPTS={self._max_attempts}); not trying again"
        )
        try:
            previous, job = self._store.start(
                job_id, self._clock(), self._max_attempts, give_up, webhook_message(job_id, 1), self.host
            )
        except JobNotFound:
            log.warning("job %s expired before it could run", job_id)
            return None
        if job.status.finished and not previous.finished:
            log.warning("job %s ended before running: %s", job_id, job.error or job.status.value)
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=job.status.value)
        return job

    def execute_job(self, job: Job, runner: Runner, stop_asked: Callable[[], bool]) -> JobOutcome | Requeue:
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
            run = runner(algorithm, params, job.timeout or float("inf"), stop_asked)
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
            return ended(JobStatus.FAILED, error=f"TIMEOUT: the job ran longer than its limit of {job.timeout:g} s")
        log.warning("job %s failed: %s\n%s", job.job_id, run.error, run.error_details or "")
        return ended(JobStatus.FAILED, error=run.error, error_details=run.error_details)

    def finish_job(self, job: Job, outcome: JobOutcome, receipt: Receipt) -> None:
        """Record the outcome of this run of a job, acknowledge its message and queue its webhook,
        in one step. Safe to repeat; a run that was superseded (its worker presumed dead) records
        nothing."""
        recorded = self._store.finish(
            job,
            outcome.status,
            self._clock(),
            receipt,
            webhook_message(job.job_id, 1),
            result=outcome.result,
            error=outcome.error,
            error_details=outcome.error_details,
            metadata=outcome.metadata,
        )
        if recorded:
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=outcome.status.value)
            self._metrics.observe(JOB_DURATION, outcome.seconds, algorithm=job.algorithm)
        else:
            log.info("job %s had moved on; outcome %s of run %d not recorded", job.job_id, outcome.status.value,
                     job.attempts)

    def requeue_job(self, job: Job, requeue: Requeue, receipt: Receipt) -> None:
        """Put a run that did not end back in the queue: the job is pending again, first in line."""
        if self._store.requeue(job, receipt, requeue.count_attempt):
            log.warning("job %s goes back to the queue: %s", job.job_id, requeue.reason)

    def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these running jobs someone asked to cancel."""
        return self._store.cancel_requested(job_ids) if job_ids else set()
