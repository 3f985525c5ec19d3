"""The job indexes behind GET /jobs, kept by the job scripts: moves, expiry, bounded pages."""

from __future__ import annotations

import time

import pytest
import redis
from store_steps import cancel, finish, start
from store_steps import create as _create

from app.domain.models import Job, JobStatus
from app.storage.jobs import JobStore
from app.storage.keys import Keys

KEYS = Keys("fs")
TTL = 600
#: The longest a job may live: its TTL, plus how far ahead it may be scheduled.
RETENTION = TTL + 3600


@pytest.fixture
def store(redis_client: redis.Redis) -> JobStore:
    return JobStore(redis_client, KEYS, RETENTION)


def _job(job_id: str, created_at: float | None = None, algorithm: str = "A") -> Job:
    created_at = time.time() if created_at is None else created_at
    return Job(
        job_id=job_id,
        status=JobStatus.PENDING,
        algorithm=algorithm,
        params={},
        created_at=created_at,
        expires_at=created_at + TTL,
        owner="k1",
    )


def _members(client: redis.Redis, status: str = "*", algorithm: str = "*") -> list[str]:
    return [
        m.decode()
        for m in client.zrange(
            KEYS.job_index("k1", None if status == "*" else status, None if algorithm == "*" else algorithm), 0, -1
        )
    ]


def test_a_new_job_is_in_the_four_indexes_which_expire_with_it(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job("aaaaaaaaaaa1"), TTL)
    for status in ("*", "pending"):
        for algorithm in ("*", "A"):
            assert _members(redis_client, status, algorithm) == ["aaaaaaaaaaa1"]
    assert 0 < redis_client.ttl(KEYS.job_index("k1", None, None)) <= TTL


def test_status_changes_move_the_job_between_indexes(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job("aaaaaaaaaaa1"), TTL)
    _, running = start(store, "aaaaaaaaaaa1", time.time())
    assert (_members(redis_client, "pending"), _members(redis_client, "running", "A")) == ([], ["aaaaaaaaaaa1"])
    finish(store, running, JobStatus.COMPLETED, time.time(), result={})
    assert (_members(redis_client, "running"), _members(redis_client, "completed", "A")) == ([], ["aaaaaaaaaaa1"])
    assert _members(redis_client) == ["aaaaaaaaaaa1"]


def test_giving_up_after_crashes_files_the_job_as_failed(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job("aaaaaaaaaaa1"), TTL)
    start(store, "aaaaaaaaaaa1", time.time(), 1)
    _, job = start(store, "aaaaaaaaaaa1", time.time(), 1)
    assert (job.status, job.error) == (JobStatus.FAILED, "gave up")
    assert (_members(redis_client, "running"), _members(redis_client, "failed")) == ([], ["aaaaaaaaaaa1"])


def test_a_crashed_run_asked_to_stop_is_cancelled_instead_of_rerun(store: JobStore, redis_client: redis.Redis) -> None:
    _create(store, _job("aaaaaaaaaaa1"), TTL)
    start(store, "aaaaaaaaaaa1", time.time())
    assert cancel(store, "aaaaaaaaaaa1", "k1", time.time()) == "requested"
    _, job = start(store, "aaaaaaaaaaa1", time.time())  # the run's worker had died
    assert (job.status, job.attempts) == (JobStatus.CANCELLED, 1)
    assert _members(redis_client, "cancelled") == ["aaaaaaaaaaa1"]


def test_cancel_checks_the_owner(store: JobStore) -> None:
    _create(store, _job("aaaaaaaaaaa1"), TTL)
    assert cancel(store, "aaaaaaaaaaa1", "someone-else", time.time()) == "not_found"
    assert store.get("aaaaaaaaaaa1").status is JobStatus.PENDING


def test_a_page_drops_expired_entries_and_reads_a_bounded_number(store: JobStore, redis_client: redis.Redis) -> None:
    now = time.time()
    index = KEYS.job_index("k1", None, None)
    redis_client.zadd(index, {f"{i:012x}": now - RETENTION - 100 + i / 1000 for i in range(50_000)})  # long expired
    redis_client.zadd(index, {f"b{i:011x}": now - 10 + i / 1000 for i in range(1000)})  # gone, not yet expired
    for i in range(3):
        _create(store, _job(f"c{i:011x}", created_at=now - 20 - i), TTL)
    started = time.monotonic()
    page = store.page("k1", None, None, limit=2)
    assert time.monotonic() - started < 0.5
    assert redis_client.zcard(index) < 1003  # the expired ones are gone for good
    seen, after = [job.job_id for job in page.jobs], page.next_after
    while after:
        page = store.page("k1", None, None, limit=2, after=after)
        seen += [job.job_id for job in page.jobs]
        after = page.next_after
    assert seen == ["c00000000000", "c00000000001", "c00000000002"]
