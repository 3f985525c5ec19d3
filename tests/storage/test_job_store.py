"""JobStore against a real Redis: keys, TTL, atomic transitions, and Redis down."""

from __future__ import annotations

import pytest
import redis

from app.config import Config
from app.embedded_redis import EmbeddedRedis
from app.errors import JobNotFound, StorageUnavailable
from app.models import Job, JobStatus, Webhook
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import JobQueue, Receipt
from app.storage.redis import connect

KEYS = Keys("fs")
NOW = 1_800_000_000.0


def _create(store: JobStore, job: Job, ttl_seconds: int, **kwargs: object) -> object:
    """Create ``job`` with its run message, as the service does."""
    return store.create(job, ttl_seconds, JobQueue(KEYS).message(job.job_id), **kwargs)


def _job(job_id: str = "a1b2c3d4e5f6", **changes: object) -> Job:
    fields = {
        "job_id": job_id,
        "status": JobStatus.PENDING,
        "algorithm": "PrimeChecker",
        "params": {"number": 17},
        "created_at": NOW,
        "expires_at": NOW + 60,
    }
    fields.update(changes)
    return Job(**fields)


@pytest.fixture
def store(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client, KEYS)


def test_create_then_get_round_trips_every_field(store: JobStore) -> None:
    job = _job(webhook=Webhook(url="http://example.com/h", id="msg_1"), request_id="req-1")
    assert _create(store, job, ttl_seconds=60)
    assert store.get(job.job_id) == job


def test_the_record_lives_under_the_namespaced_keys_with_one_ttl(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(), ttl_seconds=60)
    store.start("a1b2c3d4e5f6", NOW, 3, "gave up")
    store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW, result={"ok": True}, metadata={})
    for key in ("fs:job:a1b2c3d4e5f6", "fs:job:a1b2c3d4e5f6:input", "fs:job:a1b2c3d4e5f6:output"):
        assert 55 <= redis_client.ttl(key) <= 60, key


def test_the_state_hash_stays_compact_whatever_the_payload(store: JobStore, redis_client: redis.Redis) -> None:
    """Values over 64 bytes would turn the hash into Redis's hashtable encoding, about twice the memory."""
    long_url = "https://receiver.example.com/" + "hooks/" * 40
    job = _job(webhook=Webhook(url=long_url, id="msg_1"), request_id="r" * 128, params={"text": "x" * 5000})
    _create(store, job, ttl_seconds=60)
    store.start(job.job_id, NOW, 3, "gave up")
    store.finish(job.job_id, JobStatus.FAILED, NOW, error="ValueError: " + "long message " * 100)
    assert redis_client.object("encoding", "fs:job:a1b2c3d4e5f6") in (b"listpack", b"ziplist")
    finished = store.get(job.job_id)
    assert (finished.webhook.url, finished.request_id, finished.params) == (long_url, "r" * 128, job.params)
    assert finished.error.endswith("long message ")


def test_an_existing_id_is_never_overwritten(store: JobStore) -> None:
    assert _create(store, _job(algorithm="First"), ttl_seconds=60)
    assert not _create(store, _job(algorithm="Second"), ttl_seconds=60)
    assert store.get("a1b2c3d4e5f6").algorithm == "First"


def test_an_expired_job_is_not_found(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(), ttl_seconds=60)
    redis_client.pexpire("fs:job:a1b2c3d4e5f6", 1)
    redis_client.execute_command("DEBUG", "SLEEP", "0.01")  # let the 1 ms TTL pass on the server
    with pytest.raises(JobNotFound):
        store.get("a1b2c3d4e5f6")


def _start(store: JobStore, now: float, max_attempts: int = 3) -> tuple[JobStatus, Job]:
    return store.start("a1b2c3d4e5f6", now, max_attempts, "gave up")


def test_start_moves_pending_to_running_and_counts_attempts(store: JobStore) -> None:
    _create(store, _job(), ttl_seconds=60)
    previous, first = _start(store, NOW + 1)
    previous_again, again = _start(store, NOW + 2)  # a crashed run, run again
    assert previous is JobStatus.PENDING and previous_again is JobStatus.RUNNING
    assert (first.status, first.attempts, first.started_at) == (JobStatus.RUNNING, 1, NOW + 1)
    assert (again.status, again.attempts, again.started_at) == (JobStatus.RUNNING, 2, NOW + 2)


def test_a_job_whose_runs_keep_crashing_is_failed_after_max_attempts(store: JobStore) -> None:
    _create(store, _job(), ttl_seconds=60)
    for attempt in (1, 2):
        assert _start(store, NOW + attempt, max_attempts=2)[1].status is JobStatus.RUNNING
    previous, job = _start(store, NOW + 3, max_attempts=2)
    assert previous is JobStatus.RUNNING
    assert (job.status, job.attempts, job.error, job.completed_at) == (JobStatus.FAILED, 2, "gave up", NOW + 3)


def test_finish_records_the_outcome_only_of_a_running_job(store: JobStore) -> None:
    _create(store, _job(), ttl_seconds=60)
    assert not store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW, result={"x": 1})  # still pending
    _start(store, NOW + 1)
    assert store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW + 2, result={"x": 1}, metadata={"m": 2})
    assert not store.finish("a1b2c3d4e5f6", JobStatus.FAILED, NOW + 3, error="late")  # never backwards
    job = store.get("a1b2c3d4e5f6")
    assert (job.status, job.result, job.metadata, job.error, job.completed_at) == (
        JobStatus.COMPLETED,
        {"x": 1},
        {"m": 2},
        None,
        NOW + 2,
    )


def test_a_finished_job_is_not_started_again(store: JobStore) -> None:
    _create(store, _job(), ttl_seconds=60)
    _start(store, NOW + 1)
    store.finish("a1b2c3d4e5f6", JobStatus.FAILED, NOW + 2, error="boom")
    previous, job = _start(store, NOW + 3)
    assert (previous, job.status, job.attempts) == (JobStatus.FAILED, JobStatus.FAILED, 1)


def test_a_finish_after_expiry_does_not_resurrect_the_job(store: JobStore) -> None:
    assert not store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW, result={})
    with pytest.raises(JobNotFound):
        store.get("a1b2c3d4e5f6")


def test_missing_job_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("ffffffffffff")
    with pytest.raises(JobNotFound):
        store.start("ffffffffffff", NOW, 3, "gave up")


def test_finishing_a_job_with_a_webhook_schedules_its_first_attempt(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(webhook=Webhook(url="http://example.com/h", id="msg_1")), ttl_seconds=60)
    _start(store, NOW + 1)
    store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW + 2, result={})
    [(member, due_ms)] = redis_client.zrange("fs:webhooks:due", 0, -1, withscores=True)
    seconds, micros = redis_client.time()
    assert member == b"a1b2c3d4e5f6:1:1"
    assert 0 <= seconds * 1000 + micros // 1000 - due_ms < 1000  # due now, on the server's clock


def test_finishing_a_job_without_webhook_schedules_nothing(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(), ttl_seconds=60)
    _start(store, NOW + 1)
    store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW + 2, result={})
    assert redis_client.zcard("fs:webhooks:due") == 0


def test_redis_down_raises_storage_unavailable() -> None:
    server = EmbeddedRedis().start()
    store = JobStore(connect(Config(redis_url=server.url, redis_timeout_seconds=0.5)), Keys("fs"))
    server.close()
    with pytest.raises(StorageUnavailable):
        store.get("a1b2c3d4e5f6")
    with pytest.raises(StorageUnavailable):
        _create(store, _job(), ttl_seconds=60)


def test_finish_with_a_receipt_acknowledges_the_message_in_the_same_step(
    store: JobStore, redis_client: redis.Redis
) -> None:
    message = JobQueue(KEYS).message("a1b2c3d4e5f6")
    store.create(_job(), 60, message)
    acks = "fs:dramatiq:__acks__.worker-1.jobs"
    redis_client.lpop(message.queue)  # what Dramatiq's fetch does: the id moves to the worker's acks
    redis_client.sadd(acks, message.message_id)
    store.start("a1b2c3d4e5f6", NOW, 3, "gave up")
    receipt = Receipt(acks=acks, messages=message.messages, message_id=message.message_id)

    assert store.finish("a1b2c3d4e5f6", JobStatus.COMPLETED, NOW, result={}, receipt=receipt)

    assert not redis_client.sismember(acks, message.message_id)
    assert not redis_client.hexists(message.messages, message.message_id)
    assert store.get("a1b2c3d4e5f6").status is JobStatus.COMPLETED
