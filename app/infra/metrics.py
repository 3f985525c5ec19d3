"""Every metric of the API reference, defined once, with its exact name and labels.

Two kinds, by where they are counted:
- HTTP metrics, counted by each web process with ``prometheus_client`` (multiprocess mode under
  gunicorn, so all gunicorn workers add up);
- job, algorithm and webhook metrics, counted wherever the event happens (web or worker, any host)
  and kept as running totals in Redis by ``app.infra.shared_metrics.SharedMetrics``, so any web process
  exports the cluster's totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric

from app.domain.errors import StorageUnavailable

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
HTTP_REQUEST_DURATION = Histogram("http_request_duration_seconds", "HTTP request latency", ["method", "endpoint"])
HTTP_REQUESTS_IN_PROGRESS = Gauge(
    "http_requests_in_progress", "HTTP requests being served", multiprocess_mode="livesum"
)

#: Buckets (seconds) of the shared duration histograms: algorithms run from microseconds to a minute.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Family:
    """A metric counted across processes: its name, type, help text and label names."""

    name: str
    kind: str  # "counter" or "histogram"
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


ALGORITHM_EXECUTIONS = Family("algorithm_executions_total", "counter", "Algorithm executions", ("algorithm", "status"))
ALGORITHM_DURATION = Family(
    "algorithm_execution_duration_seconds",
    "histogram",
    "Algorithm execution time",
    ("algorithm",),
    DURATION_BUCKETS,
)
JOBS_CREATED = Family("jobs_created_total", "counter", "Asynchronous jobs created", ("algorithm",))
JOBS_COMPLETED = Family("jobs_completed_total", "counter", "Asynchronous jobs finished", ("algorithm", "status"))
JOB_RETRIES = Family(
    "job_retries_total", "counter", "Failed runs scheduled to run again (retry policy)", ("algorithm",)
)
JOB_DURATION = Family(
    "job_execution_duration_seconds",
    "histogram",
    "Asynchronous job execution time",
    ("algorithm",),
    DURATION_BUCKETS,
)
WEBHOOK_DELIVERIES = Family("webhook_deliveries_total", "counter", "Webhook delivery attempts by outcome", ("status",))
WEBHOOK_DURATION = Family(
    "webhook_delivery_duration_seconds",
    "histogram",
    "Time of one webhook delivery attempt",
    (),
    (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
)
SHARED_FAMILIES = (
    ALGORITHM_EXECUTIONS,
    ALGORITHM_DURATION,
    JOBS_CREATED,
    JOBS_COMPLETED,
    JOB_RETRIES,
    JOB_DURATION,
    WEBHOOK_DELIVERIES,
    WEBHOOK_DURATION,
)


#: Cluster-wide gauges (name → help, label names), read from Redis at each scrape: every web
#: replica exports the same values, whichever hosts the workers run on.
CLUSTER_GAUGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "jobs_pending": ("Work waiting for a worker: jobs pending, webhook deliveries not yet taken", ("queue",)),
    "job_queue_oldest_age_seconds": ("How long the oldest pending job (delivery) has waited; 0: none", ("queue",)),
    "jobs_running": ("Jobs running now", ()),
    "jobs_scheduled": ("Jobs scheduled for later (run_at, delay, retry)", ()),
    "webhook_deliveries_waiting": ("Webhook attempts waiting: not yet taken, or for their retry time", ()),
    "workers_online": ("Worker processes whose heartbeat is current", ("role",)),
    "worker_slots": ("Algorithm slots of the jobs workers online", ()),
    "worker_slots_busy": ("Algorithm slots running a job now", ()),
}


@dataclass(frozen=True)
class GaugeSample:
    name: str
    labels: dict[str, str]
    value: float


class ClusterGauges:
    """Collector of ``CLUSTER_GAUGES`` from ``read`` (cheap reads only: no scan), at each scrape.
    Nothing is exported while Redis is down (a scrape gap, not zeros)."""

    def __init__(self, read: Callable[[], Iterable[GaugeSample]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            samples = list(self._read())
        except StorageUnavailable:
            return
        families = {
            name: GaugeMetricFamily(name, help_text, labels=list(labels))
            for name, (help_text, labels) in CLUSTER_GAUGES.items()
        }
        for sample in samples:
            family = families[sample.name]
            family.add_metric([sample.labels[label] for label in CLUSTER_GAUGES[sample.name][1]], sample.value)
        yield from families.values()
