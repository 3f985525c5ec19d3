"""Every Redis key the platform writes, built in one place from the namespace (``REDIS_NAMESPACE``)."""

from __future__ import annotations


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

    def job_input(self, job_id: str) -> str:
        """String: the job's params, request id and webhook url (JSON), written once, with its TTL."""
        return self.job(job_id) + self.input_suffix

    def job_output(self, job_id: str) -> str:
        """String: the finished job's result and metadata, or its error (JSON), with its TTL."""
        return self.job(job_id) + self.output_suffix

    def webhook_log(self, job_id: str) -> str:
        """List: the job's webhook attempts, JSON each, expiring with the job."""
        return self.job(job_id) + self.webhook_log_suffix

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
    def webhooks_due(self) -> str:
        """Sorted set: webhook attempts to make, scored by due time (Unix ms)."""
        return f"{self.namespace}:webhooks:due"

    @property
    def webhooks_leased(self) -> str:
        """Sorted set: attempts being made, scored by when their lease runs out (Unix ms)."""
        return f"{self.namespace}:webhooks:leased"

    @property
    def webhook_secret(self) -> str:
        """String: the signing secret generated when none is configured."""
        return f"{self.namespace}:webhook-secret"

    @property
    def metrics(self) -> str:
        """Hash: running totals of the shared metrics."""
        return f"{self.namespace}:metrics"

    @property
    def dramatiq(self) -> str:
        """Prefix of Dramatiq's own keys."""
        return f"{self.namespace}:dramatiq"

    def queue(self, queue_name: str) -> str:
        """List: ids of the queue's messages, in order (Dramatiq's own layout)."""
        return f"{self.dramatiq}:{queue_name}"

    def queue_messages(self, queue_name: str) -> str:
        """Hash: the queue's messages by id, until acknowledged (Dramatiq's own layout)."""
        return f"{self.dramatiq}:{queue_name}.msgs"

    def queue_wakeup(self, queue_name: str) -> str:
        """List: a token per message sent, capped; an idle worker blocks on it instead of polling."""
        return f"{self.dramatiq}:{queue_name}.wakeup"


#: Lua: the current time of the Redis server in ms. Schedules use this one clock, whatever the hosts' clocks.
LUA_NOW_MS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""


def attempt_member(job_id: str, series: int, number: int) -> str:
    """How one webhook attempt is named in the due and leased sets (the Lua scripts build it too)."""
    return f"{job_id}:{series}:{number}"


def parse_attempt_member(member: str) -> tuple[str, int, int]:
    job_id, series, number = member.split(":")
    return job_id, int(series), int(number)
