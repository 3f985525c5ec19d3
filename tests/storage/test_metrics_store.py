"""Shared metrics: counts from several recorders (processes) add up in Redis."""

from __future__ import annotations

import redis
from prometheus_client.core import Metric

from app.infra.metrics import ALGORITHM_DURATION, JOBS_COMPLETED
from app.infra.shared_metrics import SharedMetrics
from app.storage.keys import Keys
from app.storage.metrics import MetricsStore


def _samples(metrics: list[Metric]) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in metrics for s in m.samples}


def test_counts_from_two_recorders_add_up(redis_client: redis.Redis) -> None:
    first = SharedMetrics(MetricsStore(redis_client, Keys("fs")), flush_seconds=60)
    second = SharedMetrics(MetricsStore(redis_client, Keys("fs")), flush_seconds=60)
    first.inc(JOBS_COMPLETED, algorithm="PrimeChecker", status="completed")
    second.inc(JOBS_COMPLETED, algorithm="PrimeChecker", status="completed", amount=2)
    second.flush()
    samples = _samples(list(first.collect()))
    assert samples[("jobs_completed_total", (("algorithm", "PrimeChecker"), ("status", "completed")))] == 3


def test_histograms_are_cumulative_with_every_bucket(redis_client: redis.Redis) -> None:
    metrics = SharedMetrics(MetricsStore(redis_client, Keys("fs")), flush_seconds=60)
    for seconds in (0.003, 0.7, 0.005, 100.0):  # 0.005 is a bound: "le" counts it in; 100 is past the last
        metrics.observe(ALGORITHM_DURATION, seconds, algorithm="A")
    samples = _samples(list(metrics.collect()))
    bucket = "algorithm_execution_duration_seconds_bucket"
    assert samples[(bucket, (("algorithm", "A"), ("le", "0.001")))] == 0
    assert samples[(bucket, (("algorithm", "A"), ("le", "0.005")))] == 2
    assert samples[(bucket, (("algorithm", "A"), ("le", "1.0")))] == 3
    assert samples[(bucket, (("algorithm", "A"), ("le", "60.0")))] == 3
    assert samples[(bucket, (("algorithm", "A"), ("le", "+Inf")))] == 4
    assert samples[("algorithm_execution_duration_seconds_count", (("algorithm", "A"),))] == 4
    assert abs(samples[("algorithm_execution_duration_seconds_sum", (("algorithm", "A"),))] - 100.708) < 1e-9


def test_the_background_flusher_writes_without_a_scrape(redis_client: redis.Redis) -> None:
    from support import wait_until

    metrics = SharedMetrics(MetricsStore(redis_client, Keys("fs")), flush_seconds=0.02)
    metrics.inc(JOBS_COMPLETED, algorithm="X", status="failed")
    wait_until(lambda: redis_client.hlen("fs:metrics") == 1, timeout=5, message="a flush")
