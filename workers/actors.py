"""The actors: thin message handlers that call the same services as the web app.

Each settles its message in the script that records what happened (``LeasedMessage.settled``);
when Redis cannot be reached for that, the message is left leased and runs again once its lease
runs out.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

import dramatiq
from dramatiq.middleware import CurrentMessage

from app.domain.errors import StorageUnavailable
from app.domain.models import Job
from app.services.messages import (
    DELIVER_BATCH_WEBHOOK_ACTOR,
    DELIVER_WEBHOOK_ACTOR,
    JOBS_QUEUE,
    RUN_JOB_ACTOR,
    WEBHOOKS_QUEUE,
    is_quick_message,
)
from app.services.running import Requeue, Runner
from app.services.webhooks import Delivery
from app.storage.queue import Receipt
from app.wiring import Services
from workers.admission import Admission
from workers.broker import LeasedMessage, QueueBroker
from workers.cancel_watch import CancelWatch
from workers.executor import ProcessExecutor
from workers.patience import patiently
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

#: Retries of a message whose actor raised (a bug, or Redis refusing a script): Dramatiq's
#: ``Retries`` re-schedules it in place, 0.5 s doubling to a minute, then dead-letters it.
_INTERNAL_RETRIES = {"max_retries": 10, "min_backoff": 500, "max_backoff": 60_000}

#: Receives the progress reports of the jobs a worker runs, ``(job, fraction, message)``, in the
#: thread running the job, as they arrive: it must not block (``workers.progress.ProgressWriter``).
JobProgress = Callable[[Job, float, str], None]


def log_progress(job: Job, fraction: float, message: str) -> None:
    """Progress reports to the debug log only (a worker not keeping them)."""
    log.debug("job %s: %.0f %% %s", job.job_id, fraction * 100, message)


def declare_job_actor(
    broker: QueueBroker,
    services: Services,
    executor: ProcessExecutor,
    cancel_watch: CancelWatch,
    give_up: threading.Event,
    on_progress: JobProgress = log_progress,
) -> None:
    """Declare ``run_job`` on ``broker``, bound to this process's services, executor and cancel
    watch; progress reports of its runs go to ``on_progress``.

    A job is started (marked running, its time limit counting) only once it can run at once: this
    thread holds an algorithm process for it, or it is quick (it runs in the thread). One that needs
    a process and finds none free goes back to the queue, never started, and the worker's consumer
    takes no more until a process is freed (``workers.admission``).
    """
    # Dramatiq's TimeLimit is only a backstop: the runner enforces each job's own limit, native code too.
    time_limit_ms = int((services.config.job_timeout_max_seconds + 60) * 1000)
    admission = Admission(executor, on_admitted=broker.limit_changed)
    broker.limit_fetching(admission.room)

    def stopping() -> bool:
        return broker.fetching_stopped or give_up.is_set()

    @dramatiq.actor(
        broker=broker, actor_name=RUN_JOB_ACTOR, queue_name=JOBS_QUEUE, time_limit=time_limit_ms, **_INTERNAL_RETRIES
    )
    def run_job(job_id: str) -> None:
        message: LeasedMessage = CurrentMessage.get_current_message()
        receipt = broker.receipt(message)
        # A job its message calls quick runs in this thread: no process to hold, no question to ask.
        quick = is_quick_message(message)
        reservation = None if quick else executor.try_reserve(stopping)
        try:
            # With none free, one round trip tells whether it may run in this thread.
            if reservation is None and not quick and patiently(services.runs.needs_process, job_id, give_up=give_up):
                admission.turn_away()
                broker.give_back(message)  # still pending, first in line: for the first worker with a process free
                return
            with admission.admitted(quick=reservation is None):  # no process held: quick, said or found
                _run(job_id, message, receipt, reservation or executor)
        except StorageUnavailable:
            log.warning("job %s: Redis is not answering; it runs again when its lease runs out", job_id)
            message.settled = True  # nothing can acknowledge it now
        finally:
            if reservation is not None:  # held until the outcome is recorded: never more running than processes
                reservation.release()

    def _run(job_id: str, message: LeasedMessage, receipt: Receipt, runner: Runner) -> None:
        """Start the job, run it on ``runner`` and record the outcome, its message settled with it."""
        job = patiently(services.runs.start_job, job_id, receipt, give_up=give_up)
        if job is None or job.status.finished:  # gone, a repeated message, cancelled, or given up
            return
        stop_asked = cancel_watch.track(job_id)
        try:
            outcome = services.runs.execute_job(job, runner, stop_asked, functools.partial(on_progress, job))
        finally:
            cancel_watch.untrack(job_id)
        if isinstance(outcome, Requeue):
            patiently(services.runs.requeue_job, job, outcome, receipt, give_up=give_up)
        else:
            patiently(services.runs.finish_job, job, outcome, receipt, give_up=give_up)
        message.settled = True


def declare_webhook_actor(
    broker: QueueBroker, services: Services, sender: WebhookSender, give_up: threading.Event
) -> None:
    """Declare ``deliver_webhook`` on ``broker``: one attempt per delivery of the message."""
    time_limit_ms = int((sender.timeout_seconds + 30) * 1000)  # a backstop: the sender has its own deadline
    webhooks = services.webhooks

    @dramatiq.actor(
        broker=broker,
        actor_name=DELIVER_WEBHOOK_ACTOR,
        queue_name=WEBHOOKS_QUEUE,
        time_limit=time_limit_ms,
        **_INTERNAL_RETRIES,
    )
    def deliver_webhook(job_id: str, series: int) -> None:
        _attempt(lambda: webhooks.prepare(job_id, series), f"job {job_id}")

    @dramatiq.actor(
        broker=broker,
        actor_name=DELIVER_BATCH_WEBHOOK_ACTOR,
        queue_name=WEBHOOKS_QUEUE,
        time_limit=time_limit_ms,
        **_INTERNAL_RETRIES,
    )
    def deliver_batch_webhook(batch_id: str, series: int) -> None:
        _attempt(lambda: webhooks.prepare_batch(batch_id, series), f"batch {batch_id}")

    def _attempt(prepare: Callable[[], Delivery | None], subject: str) -> None:
        """One attempt of the webhook ``prepare`` gives, recorded with its message settled."""
        message: LeasedMessage = CurrentMessage.get_current_message()
        receipt = broker.receipt(message)
        try:
            delivery = patiently(prepare, give_up=give_up)
            if delivery is None:
                return
            started_at = time.time()
            outcome = sender.send(delivery)
            patiently(webhooks.record, delivery, outcome, started_at, receipt, give_up=give_up)
            message.settled = True
        except StorageUnavailable:
            log.warning("webhook of %s: Redis is not answering; it is tried again when its lease runs out", subject)
            message.settled = True
