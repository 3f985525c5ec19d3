"""Builds the services of one process (web or worker) from its configuration."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import redis
from prometheus_client.registry import Collector

import algorithms
from app.infra.config import Config
from app.infra.metrics import ClusterGauges
from app.infra.shared_metrics import SharedMetrics
from app.services.auth import AuthService
from app.services.batches import BatchService
from app.services.catalog import Catalog
from app.services.events import EventHub
from app.services.health import HealthService
from app.services.invocation import InvocationService
from app.services.jobs import JobLimits, JobService
from app.services.operations import OperationsService
from app.services.running import RunService
from app.services.waiting import Waiter
from app.services.webhooks import WebhookService
from app.storage import redis as redis_storage
from app.storage.api_keys import ApiKeyStore
from app.storage.batches import BatchStore
from app.storage.cluster import ClusterStore
from app.storage.events import JobEventsChannel
from app.storage.jobs import JobStore
from app.storage.keys import Keys
from app.storage.metrics import MetricsStore
from app.storage.notifications import FinishedJobsChannel
from app.storage.queue import QueueStore
from app.storage.replication import ReplicaCheck
from app.storage.stats import QueueStats
from app.storage.webhooks import WebhookStore
from app.storage.workers import WorkerRegistry


@dataclass(frozen=True)
class Services:
    config: Config
    catalog: Catalog
    metrics: SharedMetrics
    auth: AuthService
    invocation: InvocationService
    jobs: JobService
    batches: BatchService
    runs: RunService
    waiter: Waiter
    events: EventHub
    webhooks: WebhookService
    health: HealthService
    #: The broker's queues (the workers' broker is built on it).
    queues: QueueStore
    operations: OperationsService
    #: What /metrics exports besides this host's HTTP metrics.
    metric_collectors: tuple[Collector, ...]


def build_services(config: Config, client: redis.Redis | None = None) -> Services:
    """Connect lazily (nothing touches Redis here) and assemble the services."""
    keys = Keys(config.redis_namespace)
    client = client if client is not None else redis_storage.connect(config)
    catalog = Catalog(algorithms.load_algorithms())
    metrics = SharedMetrics(MetricsStore(client, keys), config.metrics_flush_seconds)
    jobs_store = JobStore(client, keys, config.job_ttl_seconds + config.schedule_horizon_seconds)
    batch_store = BatchStore(client, keys, jobs_store)
    queues = QueueStore(client, keys)
    webhooks = WebhookService(
        jobs_store,
        WebhookStore(client, keys),
        batch_store,
        metrics,
        config.webhook_retry_delays,
        config.webhook_allow_private_networks,
        secret=config.webhook_secret or None,
        previous_secret=config.webhook_secret_previous or None,
    )
    limits = JobLimits(
        config.job_ttl_seconds,
        config.job_timeout_default_seconds,
        config.job_timeout_max_seconds,
        config.schedule_horizon_seconds,
    )
    waiter = Waiter(FinishedJobsChannel(client, keys), config.wait_max_waiters)
    operations = OperationsService(
        WorkerRegistry(client, keys),
        ClusterStore(client, keys, jobs_store),
        QueueStats(client, keys),
        config.worker_lease_seconds,
    )
    events = EventHub(JobEventsChannel(client, keys), config.event_streams_max)
    replicas = None
    if config.redis_min_replicas:
        replicas = ReplicaCheck(client, keys, config.redis_min_replicas, config.redis_replica_wait_seconds)
    jobs = JobService(jobs_store, catalog, webhooks, metrics, limits, waiter, events, replicas=replicas)
    return Services(
        config=config,
        catalog=catalog,
        metrics=metrics,
        auth=AuthService(ApiKeyStore(client, keys), config.api_keys, admin_keys=config.admin_api_keys),
        invocation=InvocationService(catalog, metrics),
        jobs=jobs,
        batches=BatchService(batch_store, jobs_store, jobs, webhooks, metrics),
        runs=RunService(jobs_store, catalog, metrics, config.job_max_attempts, config.job_ttl_seconds),
        waiter=waiter,
        events=events,
        webhooks=webhooks,
        health=HealthService(functools.partial(redis_storage.ping, client), catalog),
        queues=queues,
        operations=operations,
        metric_collectors=(
            metrics,
            ClusterGauges(operations.gauges),
        ),
    )
