"""Every Redis key the platform writes, built in one place from the namespace (``REDIS_NAMESPACE``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QueueKeys:
    """The keys of one queue of the broker; ``app.storage.queue`` says what each holds and why.

    Lua scripts receive them as one group (``K.queue.ready`` ...), see ``app.storage.scripts``.
    """

    #: Sorted set: deliverable message ids, scored by priority band, then order of arrival.
    ready: str
    #: Sorted set: delayed message ids, scored by due time (Unix ms, the Redis server's clock).
    due: str
    #: Sorted set: delivered message ids, scored by when their lease runs out (Unix ms).
    leased: str
    #: Sorted set: the ids of ``ready``, scored by when each became deliverable (Unix ms): the oldest's age.
    waiting: str
    #: Hash: message id -> the encoded message, from enqueue until acknowledged.
    messages: str
    #: Hash: message id -> priority, for messages not of the default priority.
    priorities: str
    #: Hash: message id -> how many times it was delivered (the fencing token of each delivery).
    deliveries: str
    #: String: a counter giving arrival order within a priority.
    sequence: str
    #: Sorted set: dead-lettered message ids, scored by when (Unix ms); kept a week.
    dead: str
    #: Hash: message id -> the encoded dead-lettered message.
    dead_messages: str
    #: Pub/sub channel (not a key): told whenever a message may have become deliverable sooner.
    wakeup: str


@dataclass(frozen=True)
class JobKeys:
    """The keys of one job, which share its TTL (Lua: ``K.job.state`` ...)."""

    #: Hash: the job's state in short fields (see ``Keys.job``).
    state: str
    #: String: params, request id and webhook url (JSON), written once.
    input: str
    #: String: result and metadata, or error (JSON), written when the job ends.
    output: str
    #: List: the webhook's delivery attempts (JSON each).
    webhook_log: str
    #: List: the runs that did not end the job (failed and retried, crashed), JSON each.
    attempts: str
    #: String: the latest progress its algorithm reported (JSON), when it reported any.
    progress: str


@dataclass(frozen=True)
class BatchKeys:
    """The keys of one batch, which share its TTL (Lua: ``K.batch.state`` ...)."""

    #: Hash: owner, times, total, a counter per status of its jobs, webhook state (as a job's).
    state: str
    #: String: the batch webhook's url (JSON), written once.
    input: str
    #: List: the ids of its jobs, in the order submitted.
    jobs: str
    #: List: the batch webhook's delivery attempts (JSON each).
    webhook_log: str


class Keys:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def job(self, job_id: str) -> str:
        """Hash: the job's state in short fields (status, times, attempts, webhook state), with its TTL.

        Every value stays within 64 bytes, so Redis keeps the hash in its compact encoding.
        """
        return f"{self.namespace}:job:{job_id}"

    #: What follows a job's key to name its input, its output and its webhook log.
    input_suffix = ":input"
    output_suffix = ":output"
    webhook_log_suffix = ":webhook-log"
    attempts_suffix = ":attempts"
    progress_suffix = ":progress"

    def job_input(self, job_id: str) -> str:
        """String: the job's params, request id and webhook url (JSON), written once, with its TTL."""
        return self.job(job_id) + self.input_suffix

    def job_output(self, job_id: str) -> str:
        """String: the finished job's result and metadata, or its error (JSON), with its TTL."""
        return self.job(job_id) + self.output_suffix

    def webhook_log(self, job_id: str) -> str:
        """List: the job's webhook attempts, JSON each, expiring with the job."""
        return self.job(job_id) + self.webhook_log_suffix

    def of_job(self, job_id: str) -> JobKeys:
        job = self.job(job_id)
        return JobKeys(
            job,
            job + self.input_suffix,
            job + self.output_suffix,
            job + self.webhook_log_suffix,
            job + self.attempts_suffix,
            job + self.progress_suffix,
        )

    @property
    def batch_prefix(self) -> str:
        """What precedes a batch id in its keys."""
        return f"{self.namespace}:batch:"

    def of_batch(self, batch_id: str) -> BatchKeys:
        batch = self.batch_prefix + batch_id
        return BatchKeys(batch, batch + self.input_suffix, batch + ":jobs", batch + self.webhook_log_suffix)

    @property
    def scheduled_jobs(self) -> str:
        """Sorted set: the id of every scheduled job, scored by when it is due (Unix ms)."""
        return f"{self.namespace}:jobs:scheduled"

    @property
    def pending_jobs(self) -> str:
        """Sorted set: the id of every pending job, scored by when it became pending (Unix ms)."""
        return f"{self.namespace}:jobs:pending-since"

    @property
    def running_jobs(self) -> str:
        """Sorted set: the id of every running job, scored by when its run started (Unix ms)."""
        return f"{self.namespace}:jobs:running-since"

    @property
    def watched_jobs(self) -> str:
        """Sorted set: the jobs whose events someone streams, scored by when that interest lapses (Unix ms)."""
        return f"{self.namespace}:jobs:watched"

    @property
    def job_events_channel(self) -> str:
        """Pub/sub channel: the id of each watched job that has just changed (for event streams)."""
        return f"{self.namespace}:job-events"

    @property
    def owners(self) -> str:
        """Set: every owner (API key id, or ``_``) that has created jobs or batches: whose indexes an admin reads."""
        return f"{self.namespace}:owners"

    def batch_index(self, owner: str) -> str:
        """Sorted set: the owner's batch ids, scored by creation time (Unix seconds)."""
        return f"{self.namespace}:batches:{owner}"

    @property
    def stats_prefix(self) -> str:
        """What precedes ``<queue>:10s:<n>`` and ``<queue>:1m:<n>``: hashes of a queue's recent outcomes."""
        return f"{self.namespace}:stats:"

    @property
    def job_index_prefix(self) -> str:
        """Sorted sets ``<prefix><owner>:<status or *>:<algorithm or *>``: job ids scored by creation time."""
        return f"{self.namespace}:jobs:"

    def job_index(self, owner: str, status: str | None, algorithm: str | None) -> str:
        return f"{self.job_index_prefix}{owner}:{status or '*'}:{algorithm or '*'}"

    def idempotency(self, owner: str, digest: str) -> str:
        """String: the job created under an Idempotency-Key, and the fingerprint of its request."""
        return f"{self.namespace}:idempotency:{owner}:{digest}"

    @property
    def finished_channel(self) -> str:
        """Pub/sub channel: the id of each job that has just finished (for requests that wait)."""
        return f"{self.namespace}:job-finished"

    @property
    def api_keys(self) -> str:
        """Hash: SHA-256 of each API key → its id, name and creation time (keys themselves are not kept)."""
        return f"{self.namespace}:api-keys"

    @property
    def api_keys_required(self) -> str:
        """String: set once a key has been created, so that revoking every key never opens the API."""
        return f"{self.namespace}:api-keys:required"

    @property
    def webhook_secret(self) -> str:
        """String: the signing secret generated when none is configured."""
        return f"{self.namespace}:webhook-secret"

    @property
    def metrics(self) -> str:
        """Hash: running totals of the shared metrics."""
        return f"{self.namespace}:metrics"

    @property
    def workers(self) -> str:
        """Sorted set: the id of each worker process heard from, scored by its last heartbeat (Unix ms)."""
        return f"{self.namespace}:workers"

    def worker(self, worker_id: str) -> str:
        """String: a worker process's description (JSON), expiring unless its heartbeat renews it."""
        return f"{self.namespace}:worker:{worker_id}"

    @property
    def replication_marker(self) -> str:
        """String: written before each ``WAIT`` for replicas (``storage.replication``): a write to wait for."""
        return f"{self.namespace}:replication-marker"

    def queue(self, queue_name: str) -> QueueKeys:
        """The keys of the broker's queue ``queue_name`` (``jobs``, ``webhooks``)."""
        prefix = f"{self.namespace}:queue:{queue_name}:"
        return QueueKeys(
            ready=prefix + "ready",
            due=prefix + "due",
            leased=prefix + "leased",
            waiting=prefix + "waiting",
            messages=prefix + "messages",
            priorities=prefix + "priorities",
            deliveries=prefix + "deliveries",
            sequence=prefix + "sequence",
            dead=prefix + "dead",
            dead_messages=prefix + "dead-messages",
            wakeup=prefix + "wakeup",
        )
