"""What operators see: the worker registry, queue state and gauges, recent activity; against a
real Redis and real workers."""

from __future__ import annotations

from collections import Counter

import dramatiq
import pytest
import redis
from flask.testing import FlaskClient
from support import metric_value, wait_until

from app.infra.config import Config
from app.wiring import Services
from workers.process import start_worker


def _submit(client: FlaskClient, algorithm: str, params: dict, **extra: object) -> str:
    answer = client.post("/jobs", json={"algorithm": algorithm, "params": params, **extra})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["job_id"]


def _statuses_by_hand(redis_client: redis.Redis) -> Counter[str]:
    """Every job record's status, read one by one (what the gauges must agree with)."""
    counts: Counter[str] = Counter()
    for key in redis_client.scan_iter("fs:job:*", count=1000):
        if key.count(b":") == 2:  # the job's state hash, not its input, output or logs
            counts[redis_client.hget(key, "status").decode()] += 1
    return counts


def _queue(client: FlaskClient, name: str) -> dict:
    [queue] = [q for q in client.get("/queues").get_json()["queues"] if q["name"] == name]
    return queue


def test_each_worker_registers_with_what_it_runs_and_leaves_when_stopped(
    client: FlaskClient, config: Config, webhook_worker: dramatiq.Worker
) -> None:
    worker = start_worker(config, threads=2)
    try:
        job_id = _submit(client, "Sleeping", {"seconds": 30})
        jobs_worker = wait_until(
            lambda: [w for w in client.get("/workers").get_json()["workers"] if w["running"]],
            message="a worker running the job",
        )[0]
        assert jobs_worker["role"] == "jobs" and jobs_worker["slots"] == 2 and jobs_worker["threads"] == 2
        assert [r["job_id"] for r in jobs_worker["running"]] == [job_id]
        assert jobs_worker["heartbeat_age_seconds"] < config.worker_lease_seconds
        roles = sorted(w["role"] for w in client.get("/workers").get_json()["workers"])
        assert roles == ["jobs", "webhooks"]
        client.post(f"/jobs/{job_id}/cancel")
        wait_until(
            lambda: not any(w["running"] for w in client.get("/workers").get_json()["workers"]),
            message="the cancelled job no longer shown as running",
        )
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
    assert [w["role"] for w in client.get("/workers").get_json()["workers"]] == ["webhooks"]


def test_gauges_agree_with_queues_and_with_a_count_by_hand(
    client: FlaskClient, config: Config, redis_client: redis.Redis
) -> None:
    """Jobs scheduled, pending behind busy workers, and running on two workers' slots: /metrics,
    /queues and the job records read one by one say the same."""
    workers = [start_worker(config, threads=2) for _ in range(2)]
    try:
        running = [_submit(client, "Sleeping", {"seconds": 60}) for _ in range(4)]
        wait_until(lambda: _queue(client, "jobs")["running"] == 4, message="four jobs running")
        pending = [_submit(client, "Sleeping", {"seconds": 60}) for _ in range(3)]
        scheduled = [_submit(client, "PrimeChecker", {"number": 7}, delay_seconds=600) for _ in range(2)]
        by_hand = _statuses_by_hand(redis_client)
        assert by_hand == {"running": 4, "pending": 3, "scheduled": 2}
        queue = _queue(client, "jobs")
        assert (queue["running"], queue["pending"], queue["scheduled"]) == (4, 3, 2)
        assert queue["oldest_pending_age_seconds"] is not None and queue["oldest_pending_age_seconds"] < 60
        metrics = client.get("/metrics").get_data(as_text=True)
        assert metric_value(metrics, "jobs_running") == 4
        assert metric_value(metrics, "jobs_pending", queue="jobs") == 3
        assert metric_value(metrics, "jobs_scheduled") == 2
        assert metric_value(metrics, "workers_online", role="jobs") == 2
        assert metric_value(metrics, "worker_slots") == 4
        wait_until(
            lambda: metric_value(client.get("/metrics").get_data(as_text=True), "worker_slots_busy") == 4,
            timeout=config.worker_lease_seconds,
            message="the heartbeats to show four busy slots",
        )
        age = metric_value(metrics, "job_queue_oldest_age_seconds", queue="jobs")
        assert 0 <= age < 60
        for job_id in running + pending + scheduled:
            client.post(f"/jobs/{job_id}/cancel")
        wait_until(lambda: _statuses_by_hand(redis_client) == {"cancelled": 9}, message="every job cancelled")
        queue = _queue(client, "jobs")
        assert (queue["pending"], queue["scheduled"], queue["oldest_pending_age_seconds"]) == (0, 0, None)
    finally:
        for worker in workers:
            worker.stop(timeout=10_000)
            worker.broker.close()


def test_recent_completions_failures_and_run_times(
    client: FlaskClient, services: Services, worker: dramatiq.Worker
) -> None:
    done = [_submit(client, "Sleeping", {"seconds": 0.3}) for _ in range(3)]
    failed = [_submit(client, "Failing", {"n": 1}) for _ in range(2)]
    for job_id in done + failed:
        wait_until(lambda job_id=job_id: client.get(f"/jobs/{job_id}").get_json()["status"] in ("completed", "failed"))
    queue = _queue(client, "jobs")
    for window in ("1m", "5m", "15m"):
        counts = queue["windows"][window]
        assert (counts["completed"], counts["failed"], counts["cancelled"]) == (3, 2, 0), window
    p95 = queue["windows"]["15m"]["run_time_p95_seconds"]
    assert 0.3 * 0.9 <= p95 <= 3.0, p95  # the histogram's resolution is ±10 %; the run adds a little
    minutes = queue["history"]
    assert len(minutes) == 60 and sum(m["completed"] for m in minutes) == 3 and sum(m["failed"] for m in minutes) == 2
    assert minutes[-1]["at"] > minutes[0]["at"]


@pytest.mark.parametrize("fraction, expected_ms", [(0.5, 100), (0.95, 1000)])
def test_percentiles_from_the_histogram_are_within_ten_percent(fraction: float, expected_ms: float) -> None:
    from app.storage.stats import percentile

    def bucket(ms: float) -> int:
        import math

        return math.floor(4 * math.log2(ms)) + 1

    histogram = Counter(bucket(100) for _ in range(90)) + Counter(bucket(1000) for _ in range(10))
    value = percentile(dict(histogram), fraction) * 1000
    assert abs(value - expected_ms) / expected_ms <= 0.1
