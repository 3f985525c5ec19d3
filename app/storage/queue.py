"""JobQueue: the message that sends a job run to the workers, in Dramatiq's Redis layout.

The message is written by the script that creates the job (``JobStore.create``), so a job exists
if and only if its run is queued, in one round trip. Workers consume the queue with Dramatiq's own
Redis broker. The queue and actor names below are wire formats shared with ``workers``: renaming
one is a protocol change between web and worker versions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import dramatiq

from app.storage.keys import Keys

#: Queue of algorithm runs, consumed by the job workers.
JOBS_QUEUE = "jobs"
RUN_JOB_ACTOR = "run_job"
#: Wake-up tokens kept at most: enough to wake every idle worker process after a burst.
WAKEUP_TOKENS = 256


@dataclass(frozen=True)
class QueuedMessage:
    """What the creating script writes: Dramatiq's message for one run, and where it goes."""

    queue: str
    messages: str
    wakeup: str
    message_id: str
    data: bytes


class JobQueue:
    """Builds the run messages of jobs; knows nothing of what the actor does."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys

    def message(self, job_id: str) -> QueuedMessage:
        # Dramatiq's RedisBroker.enqueue gives each message a Redis id of its own; one uuid serves
        # as both ids here, since this message is never enqueued a second time.
        message_id = str(uuid.uuid4())
        message = dramatiq.Message(
            queue_name=JOBS_QUEUE,
            actor_name=RUN_JOB_ACTOR,
            args=(job_id,),
            kwargs={},
            options={"redis_message_id": message_id},
            message_id=message_id,
        )
        return QueuedMessage(
            queue=self._keys.queue(JOBS_QUEUE),
            messages=self._keys.queue_messages(JOBS_QUEUE),
            wakeup=self._keys.queue_wakeup(JOBS_QUEUE),
            message_id=message_id,
            data=message.encode(),
        )


@dataclass(frozen=True)
class Receipt:
    """A message a worker took from the queue: what acknowledging it removes (Dramatiq's layout).

    Passed to ``JobStore.finish``, it is acknowledged in the same step as the job's outcome is
    recorded: one round trip fewer per job, and no moment when a finished job's message could be
    delivered again.
    """

    acks: str
    messages: str
    message_id: str
