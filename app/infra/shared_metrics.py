"""SharedMetrics: counts job, algorithm and webhook events in any process and exports cluster totals.

Counts are buffered in memory and added to Redis by a background thread at most once per flush
interval, which keeps Redis off the request path; every process (web or worker, on any host) adds
to the same running totals, and any web process's /metrics reads them.
"""

from __future__ import annotations

import atexit
import bisect
import json
import logging
import os
import threading
from collections import defaultdict
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from app.domain.errors import StorageUnavailable
from app.infra.metrics import SHARED_FAMILIES, Family
from app.storage.metrics import MetricsStore

log = logging.getLogger(__name__)

#: This process's id, kept current across forks: os.getpid() is a system call, and it is asked per event.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def _field(sample: str, labels: dict[str, str]) -> str:
    return f"{sample}|{json.dumps(labels, sort_keys=True)}"


class _Histogram:
    """Observations of one histogram series since the last flush: sum, count, and per-bucket counts."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self, bounds: int) -> None:
        self.sum = 0.0
        self.count = 0
        self.buckets = [0] * (bounds + 1)  # the last one is +Inf


class SharedMetrics:
    """Counts shared metrics in memory and adds them to Redis from a background thread.

    Also a Prometheus collector: ``collect()`` writes this process's pending counts, then reads the
    totals of all processes. Counting costs a dict update under a lock; the Redis fields (names with
    their labels as JSON, cumulative buckets) are built once per flush, not per event.
    """

    def __init__(self, store: MetricsStore, flush_seconds: float) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._counts: dict[tuple[Family, tuple[str, ...]], float] = defaultdict(float)
        self._histograms: dict[tuple[Family, tuple[str, ...]], _Histogram] = {}
        self._retry: dict[str, float] = defaultdict(float)  # fields whose write failed
        self._flusher_pid: int | None = None
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    def inc(self, family: Family, amount: float = 1, **labels: str) -> None:
        key = (family, _values(family, labels))
        with self._lock:
            self._counts[key] += amount
        self._ensure_flusher()

    def observe(self, family: Family, value: float, **labels: str) -> None:
        key = (family, _values(family, labels))
        bucket = bisect.bisect_left(family.buckets, value)  # the first bound >= value: Prometheus's "le"
        with self._lock:
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = _Histogram(len(family.buckets))
            histogram.sum += value
            histogram.count += 1
            histogram.buckets[bucket] += 1
        self._ensure_flusher()

    def flush(self) -> None:
        """Write pending counts to Redis; on failure keep them for the next try."""
        with self._lock:
            counts, self._counts = self._counts, defaultdict(float)
            histograms, self._histograms = self._histograms, {}
            pending, self._retry = self._retry, defaultdict(float)
        for (family, values), amount in counts.items():
            pending[_field(family.name, dict(zip(family.labels, values, strict=True)))] += amount
        for (family, values), histogram in histograms.items():
            labels = dict(zip(family.labels, values, strict=True))
            pending[_field(f"{family.name}_sum", labels)] += histogram.sum
            pending[_field(f"{family.name}_count", labels)] += histogram.count
            cumulative = 0
            for bound, count in zip((*family.buckets, float("inf")), histogram.buckets, strict=True):
                # Zero deltas too: every bucket must exist for the series to be a valid histogram.
                cumulative += count
                pending[_field(f"{family.name}_bucket", {**labels, "le": _le(bound)})] += cumulative
        if not pending:
            return
        try:
            self._store.add(pending)
        except StorageUnavailable:
            with self._lock:
                for key, amount in pending.items():
                    self._retry[key] += amount
            raise

    def collect(self) -> Iterator[Metric]:
        try:
            self.flush()
            totals = self._store.totals()
        except StorageUnavailable:  # logged once per outage by the storage layer
            totals = {}
        samples: dict[str, list[tuple[str, dict[str, str], float]]] = defaultdict(list)
        for field, value in totals.items():
            sample, _, labels = field.partition("|")
            samples[sample].append((sample, json.loads(labels), value))
        for family in SHARED_FAMILIES:
            yield _build(family, samples)

    def _ensure_flusher(self) -> None:
        # Started lazily and per process: a thread does not survive a fork (gunicorn, dramatiq).
        pid = _pid
        if self._flusher_pid == pid:
            return
        with self._lock:
            if self._flusher_pid == pid:
                return
            self._flusher_pid = pid
            self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_forever, name="metrics-flush", daemon=True)
        self._flusher.start()
        atexit.register(self.close)

    def _flush_forever(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            try:
                self.flush()
            except StorageUnavailable:
                log.debug("metrics flush postponed: Redis is not answering")
            except Exception:
                log.exception("metrics flush failed")

    def close(self) -> None:
        """Stop the background writer and write what is pending (also run at interpreter exit)."""
        self._stop.set()
        if self._flusher is not None and self._flusher is not threading.current_thread():
            self._flusher.join(timeout=5)  # a write in progress lands before we return
        try:
            self.flush()
        except StorageUnavailable:
            log.warning("metrics counted in the last second were lost: Redis is not answering")


def _values(family: Family, labels: dict[str, str]) -> tuple[str, ...]:
    if len(labels) != len(family.labels):
        raise ValueError(f"{family.name} takes labels {family.labels}, got {tuple(labels)}")
    try:
        return tuple(str(labels[name]) for name in family.labels)
    except KeyError:
        raise ValueError(f"{family.name} takes labels {family.labels}, got {tuple(labels)}") from None


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _build(family: Family, samples: dict[str, list[tuple[str, dict[str, str], float]]]) -> Metric:
    if family.kind == "counter":
        metric = CounterMetricFamily(family.name, family.help, labels=family.labels)
        for _, labels, value in samples.get(family.name, []):
            metric.add_metric([labels[name] for name in family.labels], value)
        return metric
    metric = HistogramMetricFamily(family.name, family.help, labels=family.labels)
    series: dict[tuple[str, ...], dict[str, object]] = defaultdict(lambda: {"buckets": [], "sum": 0.0})
    for _, labels, value in samples.get(f"{family.name}_bucket", []):
        key = tuple(labels[name] for name in family.labels)
        series[key]["buckets"].append((labels["le"], value))
    for _, labels, value in samples.get(f"{family.name}_sum", []):
        series[tuple(labels[name] for name in family.labels)]["sum"] = value
    for key, data in series.items():
        buckets = sorted(data["buckets"], key=lambda b: float(b[0]))
        metric.add_metric(list(key), buckets, data["sum"])
    return metric
