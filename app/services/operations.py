"""OperationsService: the platform as an operator sees it: workers, queues, and the gauges an
autoscaler reads.

Everything comes from Redis, so every web replica answers the same, whichever hosts the workers
run on: the worker registry (each worker's own heartbeat), the cluster-wide counts the job and
queue scripts keep (``ClusterStore``) and the recent-activity buckets they write (``QueueStats``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.infra.metrics import GaugeSample
from app.storage.cluster import ClusterStore, QueueState
from app.storage.queue import JOBS_QUEUE, WEBHOOKS_QUEUE
from app.storage.stats import Minute, QueueStats, Window
from app.storage.workers import WorkerRegistry

#: Worker roles, as workers register them (``functionalscaffold worker --role``).
ROLES = ("jobs", "webhooks")


@dataclass(frozen=True)
class QueueReport:
    state: QueueState
    windows: list[Window]
    history: list[Minute]


@dataclass(frozen=True)
class WorkerSummary:
    online: dict[str, int]
    #: Algorithm slots of the jobs workers, and how many run a job now.
    slots: int
    slots_busy: int


@dataclass(frozen=True)
class ClusterReport:
    queues: list[QueueReport]
    workers: WorkerSummary


class OperationsService:
    def __init__(
        self, registry: WorkerRegistry, cluster: ClusterStore, stats: QueueStats, heartbeat_ttl_seconds: float
    ) -> None:
        self._registry = registry
        self._cluster = cluster
        self._stats = stats
        self._ttl_ms = int(heartbeat_ttl_seconds * 1000)

    def workers(self) -> list[dict[str, Any]]:
        """Every worker process heard from within its heartbeat timeout, by host, role and start."""
        workers = self._registry.alive(self._ttl_ms)
        return sorted(workers, key=lambda w: (w.get("host", ""), w.get("role", ""), w.get("started_at", 0)))

    def report(self) -> ClusterReport:
        """Each queue's state, recent activity and the last hour, and the workers online."""
        queues = [QueueReport(state, *self._activity(state.name)) for state in self._cluster.queues()]
        return ClusterReport(queues, self._summary(self.workers()))

    def _activity(self, queue: str) -> tuple[list[Window], list[Minute]]:
        activity = self._stats.activity(queue)
        return activity.windows, activity.history

    def gauges(self) -> Iterator[GaugeSample]:
        """The cluster-wide gauges of /metrics: cheap reads only (no scan of jobs)."""
        states = {state.name: state for state in self._cluster.queues()}
        for name, state in states.items():
            yield GaugeSample("jobs_pending", {"queue": name}, state.pending)
            yield GaugeSample("job_queue_oldest_age_seconds", {"queue": name}, state.oldest_pending_seconds or 0.0)
        yield GaugeSample("jobs_running", {}, states[JOBS_QUEUE].running)
        yield GaugeSample("jobs_scheduled", {}, states[JOBS_QUEUE].scheduled)
        webhooks = states[WEBHOOKS_QUEUE]
        yield GaugeSample("webhook_deliveries_waiting", {}, webhooks.pending + webhooks.scheduled)
        summary = self._summary(self.workers())
        for role, count in summary.online.items():
            yield GaugeSample("workers_online", {"role": role}, count)
        yield GaugeSample("worker_slots", {}, summary.slots)
        yield GaugeSample("worker_slots_busy", {}, summary.slots_busy)

    @staticmethod
    def _summary(workers: list[dict[str, Any]]) -> WorkerSummary:
        online = dict.fromkeys(ROLES, 0)
        slots = busy = 0
        for worker in workers:
            role = worker.get("role", "")
            online[role] = online.get(role, 0) + 1
            if role == "jobs":
                slots += int(worker.get("slots", 0))
                busy += len(worker.get("running", ()))
        return WorkerSummary(online, slots, busy)
