"""WebhookStore against a real Redis: claims, leases, and recording."""

from __future__ import annotations

import json

import pytest
import redis

from app.models import Job, JobStatus, Webhook
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import JobQueue
from app.storage.webhooks import WebhookStore

KEYS = Keys("fs")


def _create(store: JobStore, job: Job, ttl_seconds: int, **kwargs: object) -> object:
    """Create ``job`` with its run message, as the service does."""
    return store.create(job, ttl_seconds, JobQueue(KEYS).message(job.job_id), **kwargs)


@pytest.fixture
def store(redis_client: redis.Redis) -> WebhookStore:
    jobs = JobStore(redis_client, KEYS)
    job = Job(
        job_id="a1b2c3d4e5f6",
        status=JobStatus.PENDING,
        algorithm="A",
        params={},
        created_at=0.0,
        expires_at=60.0,
        webhook=Webhook(url="http://example.com/", id="msg_1"),
    )
    _create(jobs, job, ttl_seconds=60)
    jobs.start("a1b2c3d4e5f6", 1.0, 3, "gave up")
    jobs.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, 2.0, result={})  # attempt 1 is due now
    return WebhookStore(redis_client, KEYS)


def test_an_attempt_is_claimed_once(store: WebhookStore) -> None:
    [claim], _ = store.claim(lease_ms=10_000, limit=10)
    assert (claim.job_id, claim.series, claim.number) == ("a1b2c3d4e5f6", 1, 1)
    assert store.claim(lease_ms=10_000, limit=10) == ([], None)


def test_recording_a_failure_schedules_the_next_attempt_and_ends_the_lease(
    store: WebhookStore, redis_client: redis.Redis
) -> None:
    [claim], _ = store.claim(lease_ms=10_000, limit=10)
    assert store.record(claim, json.dumps({"n": 1}), "pending", None, next_in_ms=60_000) == 1
    assert redis_client.zcard("fs:webhooks:leased") == 0
    [(member, _)] = redis_client.zrange("fs:webhooks:due", 0, -1, withscores=True)
    assert member == b"a1b2c3d4e5f6:1:2"
    claims, next_in_ms = store.claim(lease_ms=10_000, limit=10)
    assert claims == [] and 59_000 < next_in_ms <= 60_000
    assert store.waiting() == 1


def test_a_lost_lease_logs_the_attempt_but_decides_nothing(store: WebhookStore, redis_client: redis.Redis) -> None:
    [claim], _ = store.claim(lease_ms=10_000, limit=10)
    redis_client.zadd("fs:webhooks:leased", {claim.member: claim.lease_until_ms + 5})  # another dispatcher's now
    assert store.record(claim, json.dumps({"n": 1}), "failed", "x", next_in_ms=None) == -1
    assert redis_client.llen("fs:job:a1b2c3d4e5f6:webhook-log") == 1
    assert redis_client.hget("fs:job:a1b2c3d4e5f6", "webhook_state") == b"pending"
    assert redis_client.zscore("fs:webhooks:leased", claim.member) == claim.lease_until_ms + 5


def test_a_superseded_series_records_nothing(store: WebhookStore, redis_client: redis.Redis) -> None:
    [claim], _ = store.claim(lease_ms=10_000, limit=10)
    assert store.redeliver("a1b2c3d4e5f6") == "ok"
    assert store.record(claim, json.dumps({"n": 1}), "delivered", None, next_in_ms=None) == 0
    assert redis_client.llen("fs:job:a1b2c3d4e5f6:webhook-log") == 0
    assert redis_client.zrange("fs:webhooks:due", 0, -1) == [b"a1b2c3d4e5f6:2:1"]


def test_an_expired_lease_is_due_again(store: WebhookStore) -> None:
    [claim], _ = store.claim(lease_ms=1, limit=10)
    again = store.claim(lease_ms=10_000, limit=10)[0]
    while not again:  # the 1 ms lease runs out on the server's clock
        again = store.claim(lease_ms=10_000, limit=10)[0]
    assert [c.member for c in again] == [claim.member]


def test_the_generated_secret_is_made_once(store: WebhookStore) -> None:
    assert store.secret() == store.secret()
    assert store.secret().startswith("whsec_")


def test_a_long_failure_reason_is_cut_to_keep_the_job_hash_compact(
    store: WebhookStore, redis_client: redis.Redis
) -> None:
    [claim], _ = store.claim(lease_ms=10_000, limit=10)
    reason = "connection refused by " + "a-very-long-host-name." * 10
    assert store.record(claim, json.dumps({"n": 1}), "failed", reason, next_in_ms=None) == 1
    kept = redis_client.hget("fs:job:a1b2c3d4e5f6", "webhook_reason").decode()
    assert len(kept.encode()) <= 64 and kept.endswith("...") and reason.startswith(kept[:-3])
    assert redis_client.object("encoding", "fs:job:a1b2c3d4e5f6") in (b"listpack", b"ziplist")
