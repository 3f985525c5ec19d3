"""JobStore against a real Redis: keys, TTL, atomic transitions, and Redis down."""

from __future__ import annotations

import pytest
import redis
from store_steps import create as _create
from store_steps import finish, start

from app.domain.errors import JobNotFound, StorageUnavailable
from app.domain.models import Job, JobStatus, Webhook
from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.queue import QueueStore, Receipt
from app.storage.redis import connect

KEYS = Keys("fs")
NOW = 1_800_000_000.0


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


def test_peek_reads_what_a_worker_needs_before_starting_a_job(store: JobStore) -> None:
    _create(store, _job(params={"number": 2**70}), ttl_seconds=60)
    queued = store.peek("a1b2c3d4e5f6")
    assert queued is not None
    assert (queued.status, queued.algorithm, queued.params) == (JobStatus.PENDING, "PrimeChecker", {"number": 2**70})
    assert store.peek("ffffffffffff") is None


def test_the_record_lives_under_the_namespaced_keys_with_one_ttl(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(), ttl_seconds=60)
    _, running = start(store, "a1b2c3d4e5f6", NOW)
    finish(store, running, JobStatus.COMPLETED, NOW, result={"ok": True}, metadata={})
    for key in ("fs:job:a1b2c3d4e5f6", "fs:job:a1b2c3d4e5f6:input", "fs:job:a1b2c3d4e5f6:output"):
        assert 55 <= redis_client.ttl(key) <= 60, key


def test_the_state_hash_stays_compact_whatever_the_payload(store: JobStore, redis_client: redis.Redis) -> None:
    """Values over 64 bytes would turn the hash into Redis's hashtable encoding, about twice the memory."""
    long_url = "https://receiver.example.com/" + "hooks/" * 40
    job = _job(webhook=Webhook(url=long_url, id="msg_1"), request_id="r" * 128, params={"text": "x" * 5000})
    _create(store, job, ttl_seconds=60)
    _, running = start(store, job.job_id, NOW)
    finish(store, running, JobStatus.FAILED, NOW, error="ValueError: " + "long message " * 100)
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
    return start(store, "a1b2c3d4e5f6", now, max_attempts)


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
    assert not finish(store, _job(attempts=0), JobStatus.COMPLETED, NOW, result={"x": 1})  # still pending
    _, running = _start(store, NOW + 1)
    assert finish(store, running, JobStatus.COMPLETED, NOW + 2, result={"x": 1}, metadata={"m": 2})
    assert not finish(store, running, JobStatus.FAILED, NOW + 3, error="late")  # never backwards
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
    _, running = _start(store, NOW + 1)
    finish(store, running, JobStatus.FAILED, NOW + 2, error="boom")
    previous, job = _start(store, NOW + 3)
    assert (previous, job.status, job.attempts) == (JobStatus.FAILED, JobStatus.FAILED, 1)


def test_a_finish_after_expiry_does_not_resurrect_the_job(store: JobStore) -> None:
    assert not finish(store, _job(status=JobStatus.RUNNING, attempts=1), JobStatus.COMPLETED, NOW, result={})
    with pytest.raises(JobNotFound):
        store.get("a1b2c3d4e5f6")


def test_missing_job_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFound):
        store.get("ffffffffffff")
    with pytest.raises(JobNotFound):
        start(store, "ffffffffffff", NOW)


def test_finishing_a_job_with_a_webhook_queues_its_delivery(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(webhook=Webhook(url="http://example.com/h", id="msg_1")), ttl_seconds=60)
    _, running = _start(store, NOW + 1)
    finish(store, running, JobStatus.COMPLETED, NOW + 2, result={})
    [delivery] = QueueStore(redis_client, KEYS).fetch("webhooks", 10, 10_000).deliveries
    assert delivery.id == "a1b2c3d4e5f6:1"  # the first series of its webhook, deliverable now


def test_finishing_a_job_without_webhook_queues_nothing(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job(), ttl_seconds=60)
    _, running = _start(store, NOW + 1)
    finish(store, running, JobStatus.COMPLETED, NOW + 2, result={})
    assert QueueStore(redis_client, KEYS).counts("webhooks").ready == 0


def test_redis_down_raises_storage_unavailable() -> None:
    server = EmbeddedRedis().start()
    store = JobStore(connect(Config(redis_url=server.url, redis_timeout_seconds=0.5)), Keys("fs"))
    server.close()
    with pytest.raises(StorageUnavailable):
        store.get("a1b2c3d4e5f6")
    with pytest.raises(StorageUnavailable):
        _create(store, _job(), ttl_seconds=60)


def test_finish_acknowledges_the_run_message_in_the_same_step(store: JobStore, redis_client: redis.Redis) -> None:
    queues = QueueStore(redis_client, KEYS)
    _create(store, _job(), ttl_seconds=60)
    [delivery] = queues.fetch("jobs", 1, 10_000).deliveries
    _, running = _start(store, NOW)
    assert finish(store, running, JobStatus.COMPLETED, NOW, delivery=delivery.number, result={})
    assert queues.counts("jobs").leased == 0
    assert store.get("a1b2c3d4e5f6").status is JobStatus.COMPLETED


def test_a_stale_run_cannot_record_over_a_later_one(store: JobStore, redis_client: redis.Redis) -> None:
    """Fencing: the first run's worker, presumed dead and rerun, comes back with its outcome."""
    _create(store, _job(), ttl_seconds=60)
    _, first = _start(store, NOW)
    _, second = _start(store, NOW + 1)  # its lease ran out: the job runs again
    assert not finish(store, first, JobStatus.FAILED, NOW + 2, error="late")
    assert finish(store, second, JobStatus.COMPLETED, NOW + 3, result={"ok": 1})
    assert not finish(store, second, JobStatus.FAILED, NOW + 4, error="again")  # written once
    job = store.get("a1b2c3d4e5f6")
    assert (job.status, job.result, job.attempts) == (JobStatus.COMPLETED, {"ok": 1}, 2)


def test_each_run_records_the_host_of_its_worker(store: JobStore) -> None:
    """A job rerun elsewhere (its first worker cut off) shows the host of its latest run."""
    _create(store, _job(), ttl_seconds=60)
    assert store.get("a1b2c3d4e5f6").worker_host is None  # not run yet
    _, first = start(store, "a1b2c3d4e5f6", NOW, worker_host="worker-a")
    _, second = start(store, "a1b2c3d4e5f6", NOW + 1, worker_host="worker-b")
    assert (first.worker_host, second.worker_host) == ("worker-a", "worker-b")
    assert not finish(store, first, JobStatus.COMPLETED, NOW + 2, result={})  # fenced: changes nothing
    assert finish(store, second, JobStatus.COMPLETED, NOW + 3, result={})
    assert store.get("a1b2c3d4e5f6").worker_host == "worker-b"


def test_a_run_given_back_leaves_the_job_pending_at_the_front_of_the_queue(
    store: JobStore, redis_client: redis.Redis
) -> None:
    queues = QueueStore(redis_client, KEYS)
    _create(store, _job(job_id="aaaaaaaaaaa1"), ttl_seconds=60)
    _create(store, _job(job_id="aaaaaaaaaaa2"), ttl_seconds=60)
    [delivery] = queues.fetch("jobs", 1, 10_000).deliveries
    _, running = start(store, delivery.id, NOW)
    receipt = Receipt("jobs", delivery.id, delivery.number)
    assert store.requeue(running, receipt, count_attempt=False)
    job = store.get("aaaaaaaaaaa1")
    assert (job.status, job.attempts, job.started_at) == (JobStatus.PENDING, 0, None)
    assert [d.id for d in queues.fetch("jobs", 2, 10_000).deliveries] == ["aaaaaaaaaaa1", "aaaaaaaaaaa2"]


def test_the_same_outcome_of_the_same_run_sent_again_counts_as_recorded(store: JobStore) -> None:
    """A finish whose answer a broken connection lost is sent again: it was recorded, once."""
    _create(store, _job(), ttl_seconds=60)
    _, running = start(store, "a1b2c3d4e5f6", NOW + 1, worker_host="worker1")
    assert finish(store, running, JobStatus.COMPLETED, NOW + 2, result={"x": 1}, worker_host="worker1")
    assert finish(store, running, JobStatus.COMPLETED, NOW + 3, result={"x": 1}, worker_host="worker1")
    assert store.get("a1b2c3d4e5f6").completed_at == NOW + 2  # written once
    assert not finish(store, running, JobStatus.COMPLETED, NOW + 3, result={"x": 1}, worker_host="worker2")
    assert not finish(store, running, JobStatus.FAILED, NOW + 3, error="late", worker_host="worker1")
