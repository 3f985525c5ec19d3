"""WebhookStore: the schedule of webhook attempts, their leases, the delivery log and the secret.

Attempts to make wait in a sorted set scored by due time (the Redis server's clock, in ms). A
dispatcher claims the due ones atomically, moving them to a lease set; recording the attempt's
outcome ends the lease and, when needed, schedules the next attempt, in one script. A claim whose
dispatcher died is due again when its lease runs out. Nothing is held only in a process's memory,
so a restart of every worker, or of Redis (with persistence), loses no attempt and repeats none that
was recorded. The webhook fields of the job hash (state, reason, series) are written here too, in
the same scripts.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

import redis

from app.config import SECRET_PREFIX
from app.storage.job_records import short
from app.storage.keys import LUA_NOW_MS, Keys, attempt_member, parse_attempt_member
from app.storage.redis import translate_errors

#: Most attempts kept in a job's delivery log (redeliveries add up).
LOG_LIMIT = 50

# KEYS: due, leased. ARGV: lease (ms), most to claim. Expired leases come back as due now; then up to
# ARGV[2] due members move to the lease set. Returns the claimed members, the earliest due time left
# (or false), and the server's time.
_CLAIM = (
    LUA_NOW_MS
    + """
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 100)
for _, member in ipairs(expired) do
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZADD', KEYS[1], now, member)
end
local claimed = {}
if tonumber(ARGV[2]) > 0 then
  claimed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
  for _, member in ipairs(claimed) do
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[1]), member)
  end
end
local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {claimed, earliest[2] or false, now}
"""
)

# KEYS: job, log, due, leased. ARGV: member, series, log entry, state, reason, next member, delay to the
# next attempt (ms), log limit, lease end (ms). A vanished job or a superseded series records nothing.
# The attempt is logged; if the lease is still ours, the state is set, the lease ended and the next
# attempt scheduled (returns 1). After a long Redis outage another dispatcher may have taken the
# attempt over: then it decides what comes next (returns -1).
_RECORD = (
    LUA_NOW_MS
    + """
if redis.call('HGET', KEYS[1], 'webhook_series') ~= ARGV[2] then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[8]), -1)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
if tonumber(redis.call('ZSCORE', KEYS[4], ARGV[1])) ~= tonumber(ARGV[9]) then return -1 end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'webhook_state', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'webhook_reason', ARGV[5])
else redis.call('HDEL', KEYS[1], 'webhook_reason') end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[3], now_ms() + tonumber(ARGV[7]), ARGV[6]) end
return 1
"""
)

# KEYS: job, due. ARGV: job id. A new series of attempts for a finished job's webhook, due now.
_REDELIVER = (
    LUA_NOW_MS
    + """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'not_found' end
if redis.call('HEXISTS', KEYS[1], 'webhook_id') == 0 then return 'no_webhook' end
if status == 'pending' or status == 'running' then return 'not_finished' end
local series = redis.call('HINCRBY', KEYS[1], 'webhook_series', 1)
redis.call('HSET', KEYS[1], 'webhook_state', 'pending')
redis.call('HDEL', KEYS[1], 'webhook_reason')
redis.call('ZADD', KEYS[2], now_ms(), ARGV[1] .. ':' .. series .. ':1')
return 'ok'
"""
)

# KEYS: leased. ARGV: member, lease end (ms). Drops the lease only if it is still ours.
_RELEASE = """
if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) == tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
"""


@dataclass(frozen=True)
class Claim:
    """An attempt this dispatcher now holds the lease of."""

    member: str
    job_id: str
    series: int
    number: int
    lease_until_ms: int


class WebhookStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._claim = client.register_script(_CLAIM)
        self._record = client.register_script(_RECORD)
        self._redeliver = client.register_script(_REDELIVER)
        self._release = client.register_script(_RELEASE)

    @translate_errors
    def claim(self, lease_ms: int, limit: int) -> tuple[list[Claim], int | None]:
        """Take up to ``limit`` due attempts; also returns in how many ms the next one is due (if any)."""
        members, earliest, now_ms = self._claim(
            keys=[self._keys.webhooks_due, self._keys.webhooks_leased], args=[lease_ms, limit]
        )
        claims = [Claim(m.decode(), *parse_attempt_member(m.decode()), now_ms + lease_ms) for m in members]
        return claims, int(float(earliest)) - now_ms if earliest else None

    @translate_errors
    def release(self, claim: Claim) -> None:
        """Give up a claim without recording anything (its series was superseded)."""
        self._release(keys=[self._keys.webhooks_leased], args=[claim.member, claim.lease_until_ms])

    @translate_errors
    def record(self, claim: Claim, entry: str, state: str, reason: str | None, next_in_ms: int | None) -> int:
        """Log the attempt, set the state, end the lease and schedule the next attempt, atomically.

        Returns 1; -1 when only the log was written (the lease had been lost); 0 when nothing was
        (the series was superseded or the job is gone).
        """
        next_member = attempt_member(claim.job_id, claim.series, claim.number + 1) if next_in_ms is not None else ""
        keys = [
            self._keys.job(claim.job_id),
            self._keys.webhook_log(claim.job_id),
            self._keys.webhooks_due,
            self._keys.webhooks_leased,
        ]
        args = [
            claim.member,
            claim.series,
            entry,
            state,
            short(reason) if reason else "",
            next_member,
            next_in_ms or 0,
            LOG_LIMIT,
            claim.lease_until_ms,
        ]
        return int(self._record(keys=keys, args=args))

    @translate_errors
    def redeliver(self, job_id: str) -> str:
        """Start a new series: 'ok', or why not: 'not_found', 'no_webhook', 'not_finished'."""
        return self._redeliver(keys=[self._keys.job(job_id), self._keys.webhooks_due], args=[job_id]).decode()

    @translate_errors
    def waiting(self) -> int:
        """Attempts scheduled and not yet taken by a dispatcher (overdue ones included)."""
        return int(self._client.zcard(self._keys.webhooks_due))

    @translate_errors
    def secret(self) -> str:
        """The generated signing secret; the first caller creates it, every process then shares it."""
        candidate = SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        self._client.set(self._keys.webhook_secret, candidate, nx=True)
        return self._client.get(self._keys.webhook_secret).decode()
