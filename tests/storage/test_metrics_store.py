"""Shared metrics: counts from several recorders (processes) add up in Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from prometheus_client.core import Metric

from app.infra.metrics import ALGORITHM_DURATION, JOBS_COMPLETED
from app.infra.shared_metrics import SharedMetrics
from app.storage.keys import Keys
from app.storage.metrics import MetricsStore


@pytest.fixture
def recorder(redis_client: redis.Redis) -> Iterator[Callable[[float], SharedMetrics]]:
    """``recorder(flush_seconds)``: a SharedMetrics on the test's Redis, its flusher stopped afterwards
    (nothing of this test may be flushed into the next one's)."""
    made: list[SharedMetrics] = []

    def make(flush_seconds: float) -> SharedMetrics:
        made.append(SharedMetrics(MetricsStore(redis_client, Keys("fs")), flush_seconds=flush_seconds))
        return made[-1]

    yield make
    for metrics in made:
        metrics.close()


def _samples(metrics: list[Metric]) -> dict[tuple, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in metrics for s in m.samples}


def test_counts_from_two_recorders_add_up(recorder) -> None:
    first = recorder(60)
    second = recorder(60)
    first.inc(JOBS_COMPLETED, algorithm="PrimeChecker", status="completed")
    second.inc(JOBS_COMPLETED, algorithm="PrimeChecker", status="completed", amount=2)
    second.flush()
    samples = _samples(list(first.collect()))
    assert samples[("jobs_completed_total", (("algorithm", "PrimeChecker"), ("status", "completed")))] == 3


def test_histograms_are_cumulative_with_every_bucket(recorder) -> None:
    metrics = recorder(60)
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


def test_the_background_flusher_writes_without_a_scrape(recorder, redis_client: redis.Redis) -> None:
    from support import wait_until

    metrics = recorder(0.02)
    metrics.inc(JOBS_COMPLETED, algorithm="X", status="failed")
    wait_until(lambda: redis_client.hlen("fs:metrics") == 1, timeout=5, message="a flush")
