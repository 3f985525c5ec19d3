"""RunService: the worker's side of a job: start it, run its algorithm within its limits, record it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import algorithms
from app.errors import AlgorithmNotFound, InvalidRequest, JobNotFound
from app.metrics import JOB_DURATION, JOBS_COMPLETED
from app.models import Job, JobStatus
from app.services.catalog import Catalog
from app.services.execution import CANCELLED, COMPLETED, TIMEOUT, Run, account
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
    metadata: dict[str, Any] | None = None
    seconds: float = 0.0


class RunService:
    def __init__(
        self,
        store: JobStore,
        catalog: Catalog,
        metrics: SharedMetrics,
        max_attempts: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._metrics = metrics
        self._max_attempts = max_attempts
        self._clock = clock

    def start_job(self, job_id: str) -> Job | None:
        """Mark a queued job running and return it; None when it no longer exists.

        A job found ``running`` is a run cut short by a worker crash: it runs again, up to
        ``max_attempts`` runs, after which it is failed (and its webhook sent). A finished job comes
        back unchanged (its message was delivered twice); one asked to stop is cancelled.
        """
        give_up = f"the worker running this job died {self._max_attempts} times; not trying again"
        try:
            previous, job = self._store.start(job_id, self._clock(), self._max_attempts, give_up)
        except JobNotFound:
            log.warning("job %s expired before it could run", job_id)
            return None
        if job.status.finished and not previous.finished:
            log.warning("job %s ended before running: %s", job_id, job.error or job.status.value)
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=job.status.value)
        return job

    def execute_job(self, job: Job, runner: Runner, stop_asked: Callable[[], bool]) -> JobOutcome:
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
        metadata = account(self._metrics, algorithm, run)
        if run.outcome == COMPLETED:
            return ended(JobStatus.COMPLETED, result=run.result, metadata=metadata)
        if run.outcome == CANCELLED:
            return ended(JobStatus.CANCELLED)
        if run.outcome == TIMEOUT:
            return ended(JobStatus.FAILED, error=f"TIMEOUT: the job ran longer than its limit of {job.timeout:g} s")
        return ended(JobStatus.FAILED, error=run.error)

    def finish_job(self, job: Job, outcome: JobOutcome, receipt: Receipt | None = None) -> None:
        """Record the outcome of a running job (its webhook is queued, and with ``receipt`` its queue
        message acknowledged, in the same step). Safe to repeat."""
        recorded = self._store.finish(
            job.job_id,
            outcome.status,
            self._clock(),
            result=outcome.result,
            error=outcome.error,
            metadata=outcome.metadata,
            receipt=receipt,
        )
        if recorded:
            self._metrics.inc(JOBS_COMPLETED, algorithm=job.algorithm, status=outcome.status.value)
            self._metrics.observe(JOB_DURATION, outcome.seconds, algorithm=job.algorithm)
        else:
            log.info("job %s was no longer running; outcome %s not recorded", job.job_id, outcome.status.value)

    def cancel_requested(self, job_ids: list[str]) -> set[str]:
        """Which of these running jobs someone asked to cancel."""
        return self._store.cancel_requested(job_ids) if job_ids else set()
