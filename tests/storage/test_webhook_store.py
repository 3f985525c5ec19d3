"""WebhookStore against a real Redis: each attempt recorded with its message settled, in one step."""

from __future__ import annotations

import json

import pytest
import redis
from store_steps import create, finish, start
from support import wait_until

from app.domain.models import Job, JobStatus, Webhook
from app.services.messages import WEBHOOKS_QUEUE, webhook_message
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import Delivery, QueueStore, Receipt
from app.storage.webhooks import WebhookStore

KEYS = Keys("fs")
JOB_ID = "a1b2c3d4e5f6"


@pytest.fixture
def queues(redis_client: redis.Redis) -> QueueStore:
    return QueueStore(redis_client, KEYS)


@pytest.fixture
def store(redis_client: redis.Redis) -> WebhookStore:
    jobs = JobStore(redis_client, KEYS)
    job = Job(
        job_id=JOB_ID,
        status=JobStatus.PENDING,
        algorithm="A",
        params={},
        created_at=0.0,
        expires_at=60.0,
        webhook=Webhook(url="http://example.com/", id="msg_1"),
    )
    create(jobs, job, ttl_seconds=60)
    _, running = start(jobs, JOB_ID, 1.0)
    finish(jobs, running, JobStatus.COMPLETED, 2.0, result={})  # its webhook's message is deliverable now
    return WebhookStore(redis_client, KEYS)


def _take(queues: QueueStore, lease_ms: int = 10_000) -> Delivery:
    [delivery] = wait_until(
        lambda: queues.fetch(WEBHOOKS_QUEUE, 1, lease_ms).deliveries, timeout=5, message="a delivery"
    )
    return delivery


def _receipt(delivery: Delivery) -> Receipt:
    return Receipt(WEBHOOKS_QUEUE, delivery.id, delivery.number)


def _record(store: WebhookStore, delivery: Delivery, number: int, state: str, next_in_ms: int | None) -> int:
    entry = json.dumps({"number": number})
    return store.record(("job", JOB_ID), 1, number, entry, state, None, next_in_ms, _receipt(delivery))


def test_a_failed_attempt_gives_the_message_back_until_the_next_is_due(
    store: WebhookStore, queues: QueueStore, redis_client: redis.Redis
) -> None:
    first = _take(queues)
    assert first.id == f"{JOB_ID}:1"
    assert _record(store, first, 1, "pending", next_in_ms=300) == 1
    fetched = queues.fetch(WEBHOOKS_QUEUE, 1, 10_000)
    assert fetched.deliveries == [] and 200 < fetched.next_in_ms <= 300
    second = _take(queues)
    assert (second.id, second.number) == (first.id, 2)
    assert _record(store, second, 2, "delivered", next_in_ms=None) == 1
    assert queues.counts(WEBHOOKS_QUEUE).leased == 0
    state = redis_client.hmget(f"fs:job:{JOB_ID}", "webhook_state", "webhook_attempt")
    assert state == [b"delivered", b"2"]
    assert redis_client.llen(f"fs:job:{JOB_ID}:webhook-log") == 2


def test_an_attempt_made_twice_is_logged_and_the_message_settled_as_decided_first(
    store: WebhookStore, queues: QueueStore, redis_client: redis.Redis
) -> None:
    """A worker whose lease ran out records attempt 1 while its successor makes attempt 1 again."""
    stale = _take(queues, lease_ms=50)
    current = _take(queues)  # the lease ran out: delivered again
    assert _record(store, stale, 1, "pending", next_in_ms=60_000) == 1
    assert _record(store, current, 1, "failed", next_in_ms=None) == -1
    assert redis_client.hget(f"fs:job:{JOB_ID}", "webhook_state") == b"pending"  # what the first decided
    assert redis_client.llen(f"fs:job:{JOB_ID}:webhook-log") == 2
    counts = queues.counts(WEBHOOKS_QUEUE)
    assert (counts.leased, counts.due) == (0, 1)  # back until the next attempt, not lost


def test_a_superseded_series_records_nothing_and_drops_its_message(
    store: WebhookStore, queues: QueueStore, redis_client: redis.Redis
) -> None:
    old = _take(queues)
    assert store.redeliver(JOB_ID, 1, webhook_message(JOB_ID, 2)) == "ok"
    assert _record(store, old, 1, "delivered", next_in_ms=None) == 0
    assert redis_client.llen(f"fs:job:{JOB_ID}:webhook-log") == 0
    assert [d.id for d in queues.fetch(WEBHOOKS_QUEUE, 10, 10_000).deliveries] == [f"{JOB_ID}:2"]


def test_a_redelivery_that_raced_another_is_told_to_read_again(store: WebhookStore) -> None:
    assert store.redeliver(JOB_ID, 1, webhook_message(JOB_ID, 2)) == "ok"
    assert store.redeliver(JOB_ID, 1, webhook_message(JOB_ID, 2)) == "conflict"
    assert store.redeliver("ffffffffffff", 1, webhook_message("ffffffffffff", 2)) == "not_found"


def test_the_generated_secret_is_made_once(store: WebhookStore) -> None:
    assert store.secret() == store.secret()
    assert store.secret().startswith("whsec_")


def test_a_long_failure_reason_is_cut_to_keep_the_job_hash_compact(
    store: WebhookStore, queues: QueueStore, redis_client: redis.Redis
) -> None:
    delivery = _take(queues)
    reason = "connection refused by " + "a-very-long-host-name." * 10
    entry = json.dumps({"number": 1})
    assert store.record(("job", JOB_ID), 1, 1, entry, "failed", reason, None, _receipt(delivery)) == 1
    kept = redis_client.hget(f"fs:job:{JOB_ID}", "webhook_reason").decode()
    assert len(kept.encode()) <= 64 and kept.endswith("...") and reason.startswith(kept[:-3])
    assert redis_client.object("encoding", f"fs:job:{JOB_ID}") in (b"listpack", b"ziplist")
