"""The actor: a thin message handler that calls the same services as the web app."""

from __future__ import annotations

import dramatiq
from dramatiq.middleware import CurrentMessage

from app.services.running import Runner
from app.storage.queue import JOBS_QUEUE, RUN_JOB_ACTOR
from app.wiring import Services
from workers.broker import WorkerBroker
from workers.cancel_watch import CancelWatch
from workers.patience import patiently


def declare_actors(broker: WorkerBroker, services: Services, runner: Runner, cancel_watch: CancelWatch) -> None:
    """Declare ``run_job`` on ``broker``, bound to this process's services, executor and cancel watch."""

    # No Dramatiq time limit: the runner enforces each job's own, and can stop native code too.
    @dramatiq.actor(broker=broker, actor_name=RUN_JOB_ACTOR, queue_name=JOBS_QUEUE, max_retries=0)
    def run_job(job_id: str) -> None:
        job = patiently(services.runs.start_job, job_id)
        if job is None or job.status.finished:  # gone, a repeated message, cancelled, or given up
            return
        stop_asked = cancel_watch.track(job_id)
        try:
            outcome = services.runs.execute_job(job, runner, stop_asked)
        finally:
            cancel_watch.untrack(job_id)
        message = CurrentMessage.get_current_message()
        patiently(services.runs.finish_job, job, outcome, broker.receipt(message))
        broker.mark_acknowledged(message)
