"""The messages that carry work to the workers: a job's run, and its webhook's delivery.

They are Dramatiq messages, put on the broker's queues by the scripts that create and finish jobs
(``app.storage``), and run by the actors of ``workers.actors``. Queue names, actor names, message
ids and the run message's ``quick`` option are wire formats between web and worker versions:
change them on purpose (a worker reads a run message without ``quick`` as "not said": it asks).
"""

from __future__ import annotations

import dramatiq

from app.storage.queue import DEFAULT_PRIORITY, JOBS_QUEUE, WEBHOOKS_QUEUE, QueuedMessage

__all__ = [
    "DELIVER_WEBHOOK_ACTOR",
    "JOBS_QUEUE",
    "RUN_JOB_ACTOR",
    "WEBHOOKS_QUEUE",
    "is_quick_message",
    "run_job_message",
    "webhook_message",
]

#: Actor of the jobs queue (whose messages' ids are the job ids), consumed by the job workers.
RUN_JOB_ACTOR = "run_job"
#: Actors of the webhooks queue, consumed by the webhook workers (never by those running algorithms).
DELIVER_WEBHOOK_ACTOR = "deliver_webhook"
DELIVER_BATCH_WEBHOOK_ACTOR = "deliver_batch_webhook"


#: Option of a job's run message: the job is quick (``Algorithm.is_quick`` at submission), so a
#: worker runs it in its thread and takes it without a free algorithm process (``workers.admission``).
QUICK_OPTION = "quick"


def _encode(queue: str, actor: str, args: tuple, message_id: str, priority: int, quick: bool = False) -> bytes:
    options: dict[str, object] = {} if priority == DEFAULT_PRIORITY else {"priority": priority}
    if quick:
        options[QUICK_OPTION] = True
    return dramatiq.Message(
        queue_name=queue, actor_name=actor, args=args, kwargs={}, options=options, message_id=message_id
    ).encode()


def run_job_message(
    job_id: str, priority: int = DEFAULT_PRIORITY, delay_ms: int = 0, quick: bool = False
) -> QueuedMessage:
    """The message that runs a job. Its id is the job's: a job has one run message at a time.
    ``quick``: the job's ``Algorithm.is_quick`` said yes (``QUICK_OPTION``)."""
    data = _encode(JOBS_QUEUE, RUN_JOB_ACTOR, (job_id,), job_id, priority, quick)
    return QueuedMessage(JOBS_QUEUE, job_id, data, priority, delay_ms)


def is_quick_message(message: dramatiq.Message) -> bool:
    """Whether a job's run message says the job is quick (``run_job_message(quick=True)``)."""
    return bool(message.options.get(QUICK_OPTION))


def webhook_message(job_id: str, series: int) -> QueuedMessage:
    """The message that delivers one series of a job's webhook (1, then one more per redelivery).

    Its id names the series, so a series is one message whatever tries to queue it twice.
    """
    message_id = f"{job_id}:{series}"
    return QueuedMessage(
        WEBHOOKS_QUEUE,
        message_id,
        _encode(WEBHOOKS_QUEUE, DELIVER_WEBHOOK_ACTOR, (job_id, series), message_id, DEFAULT_PRIORITY),
    )


def batch_webhook_message(batch_id: str, series: int) -> QueuedMessage:
    """The message that delivers a batch's webhook, once every job of the batch has ended."""
    message_id = f"batch:{batch_id}:{series}"
    return QueuedMessage(
        WEBHOOKS_QUEUE,
        message_id,
        _encode(WEBHOOKS_QUEUE, DELIVER_BATCH_WEBHOOK_ACTOR, (batch_id, series), message_id, DEFAULT_PRIORITY),
    )
