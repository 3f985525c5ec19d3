"""One worker process: a Dramatiq worker on the platform's broker, running jobs or delivering webhooks.

Stopping, whatever sends the signal (SIGTERM or SIGINT, to this process alone or to its whole
process group): it takes no new message and lets those running finish, for up to
``WORKER_SHUTDOWN_TIMEOUT_SECONDS``; jobs still running then go back to the queue with their attempt
given back, webhook attempts stay due. A second SIGINT (another Ctrl-C), or the death of the
supervisor that started it, does that at once. Nothing is failed for being stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.middleware import AgeLimit, CurrentMessage, Middleware, Retries, ShutdownNotifications, TimeLimit

from app import __version__
from app.domain.errors import StorageUnavailable
from app.infra.config import Config
from app.infra.logs import configure_logging
from app.infra.processes import SignalInbox
from app.services.messages import JOBS_QUEUE, WEBHOOKS_QUEUE
from app.storage import redis as redis_storage
from app.storage.keys import Keys
from app.storage.queue import QueueStore
from app.storage.workers import WorkerRegistry
from app.wiring import Services, build_services
from workers.actors import JobProgress, declare_job_actor, declare_webhook_actor
from workers.broker import QueueBroker
from workers.cancel_watch import CancelWatch
from workers.executor import ProcessExecutor
from workers.progress import ProgressWriter
from workers.webhooks import WebhookSender

log = logging.getLogger(__name__)

#: What a process can do, as ``--role`` names it, and the queue it consumes.
ROLES = {"jobs": JOBS_QUEUE, "webhooks": WEBHOOKS_QUEUE}


def build_broker(config: Config, store: QueueStore) -> QueueBroker:
    """The broker with Dramatiq's own middleware (retries are per actor; see ``workers.actors``)."""
    return QueueBroker(
        store,
        lease_seconds=config.worker_lease_seconds,
        middleware=[CurrentMessage(), AgeLimit(), TimeLimit(), ShutdownNotifications(), Retries(max_retries=0)],
    )


class GracefulStop(Middleware):
    """When the worker starts to stop, gives running jobs ``seconds`` to finish, then interrupts
    them (``hurry`` does it at once): their jobs go back to the queue, and steps waiting for Redis
    give up rather than hold the process."""

    def __init__(self, seconds: float, executor: ProcessExecutor | None, give_up: threading.Event) -> None:
        self.seconds = seconds
        self.executor = executor
        self.give_up = give_up
        self._timer: threading.Timer | None = None

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._timer = threading.Timer(self.seconds, self.hurry)
        self._timer.daemon = True
        self._timer.start()

    def hurry(self) -> None:
        self.give_up.set()
        if self.executor is not None:
            self.executor.interrupt()

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._timer is not None:
            self._timer.cancel()


class CloseOnShutdown(Middleware):
    """Closes what the worker's threads used (executor, watchers, metrics) once they have stopped."""

    def __init__(self, *closables: Any) -> None:
        self.closables = closables

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for closable in self.closables:
            closable.close()


def start_worker(
    config: Config,
    threads: int,
    role: str = "jobs",
    services: Services | None = None,
    on_progress: JobProgress | None = None,
) -> dramatiq.Worker:
    """Build this process's broker, services and actor, and start consuming on ``threads`` threads.

    Jobs run their algorithms in a pool of child processes (``workers.executor``), their progress
    reports going to ``on_progress`` (default: kept in Redis, a few writes a second per job);
    webhook attempts run on the threads themselves, never on those that run algorithms.
    """
    client = redis_storage.connect(config)
    services = services or build_services(config, client=client)
    broker = build_broker(config, services.queues)
    give_up = threading.Event()
    description: dict[str, Any] = {
        "id": f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "role": role,
        "threads": threads,
        "slots": min(threads, config.worker_algorithm_processes) if role == "jobs" else threads,
        "version": __version__,
        "started_at": time.time(),
    }
    running: Callable[[], dict[str, float]]
    if role == "jobs":
        executor = ProcessExecutor(min(threads, config.worker_algorithm_processes))
        cancel_watch = CancelWatch(services.runs.cancel_requested)
        writer = ProgressWriter(services.runs.report_progress)
        declare_job_actor(broker, services, executor, cancel_watch, give_up, on_progress or writer)
        broker.add_middleware(GracefulStop(config.worker_shutdown_timeout_seconds, executor, give_up))
        broker.add_middleware(CloseOnShutdown(cancel_watch, executor, writer, services.metrics))
        running = cancel_watch.running
    else:
        sender = WebhookSender(config.webhook_timeout_seconds, config.webhook_allow_private_networks)
        declare_webhook_actor(broker, services, sender, give_up)
        broker.add_middleware(GracefulStop(config.worker_shutdown_timeout_seconds, None, give_up))
        broker.add_middleware(CloseOnShutdown(services.metrics))
        running = dict
    registry = WorkerRegistry(client, Keys(config.redis_namespace))
    broker.add_middleware(Registration(registry, description, running, config.worker_lease_seconds))
    worker = dramatiq.Worker(broker, queues={ROLES[role]}, worker_threads=threads, worker_timeout=config.worker_poll_ms)
    # Dramatiq's default, twice the threads, so that threads never wait for the next fetch; jobs
    # that need an algorithm process are taken one per free process (``workers.admission``) whatever
    # the prefetch, so what waits in a busy worker is quick jobs, behind a few milliseconds of others.
    worker.queue_prefetch = (config.worker_prefetch or 2 * threads) if role == "jobs" else threads
    broker.fetch_in_batches(threads)
    broker.emit_after("process_boot")
    worker.start()
    return worker


def hurry(worker: dramatiq.Worker) -> None:
    """Interrupt what ``worker`` runs now (it is stopping): jobs go back to the queue at once."""
    for middleware in worker.broker.middleware:
        if isinstance(middleware, GracefulStop):
            middleware.hurry()


class Registration(Middleware):
    """Keeps this worker in the worker registry (``app.storage.workers``) from boot to shutdown:
    what it is, and what it runs now, written every ``beat_seconds``. Its entry lives ``ttl_seconds``
    unless renewed, so a killed worker leaves the registry by itself."""

    def __init__(
        self,
        registry: WorkerRegistry,
        description: dict[str, Any],
        running: Callable[[], dict[str, float]],
        ttl_seconds: float,
    ) -> None:
        self.registry = registry
        self.description = description
        self.running = running
        self.ttl_ms = int(ttl_seconds * 1000)
        self.beat_seconds = min(1.0, ttl_seconds / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self.description["stopping"] = True

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        with contextlib.suppress(StorageUnavailable):  # else the entry expires
            self.registry.remove(self.description["id"])

    def _beat(self) -> None:
        while True:
            running = [{"job_id": job_id, "since": since} for job_id, since in sorted(self.running().items())]
            with contextlib.suppress(StorageUnavailable):  # logged once per outage by the storage layer
                self.registry.heartbeat(self.description["id"], {**self.description, "running": running}, self.ttl_ms)
            if self._stop.wait(self.beat_seconds):
                return


def _die_with_parent() -> None:
    if sys.platform == "linux":  # PR_SET_PDEATHSIG: SIGTERM when the supervisor dies, however it dies
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def wait_for_redis(config: Config, stop: threading.Event) -> bool:
    """Block until Redis answers (the outage is logged once) or ``stop`` is set; True when it answers."""
    client = redis_storage.connect(config)
    try:
        while not stop.is_set():
            try:
                redis_storage.ping(client)
                return True
            except StorageUnavailable:
                stop.wait(1.0)
        return False
    finally:
        client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=sorted(ROLES), required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    config = Config.from_env()
    configure_logging(config.log_level)

    parent = os.getppid()
    stop, hurried = threading.Event(), threading.Event()

    def on_signal(signum: int) -> None:
        if (stop.is_set() and signum == signal.SIGINT) or os.getppid() != parent:
            hurried.set()  # a second Ctrl-C, or the supervisor is gone: nothing is waited for
        stop.set()

    SignalInbox(on_signal)
    _die_with_parent()
    if os.getppid() != parent:  # the supervisor died before we could ask to be told
        return
    started = time.monotonic()
    if not wait_for_redis(config, stop):
        return
    worker = start_worker(config, args.threads, args.role)
    log.info("%s worker ready: %d threads (%.1f s)", args.role, args.threads, time.monotonic() - started)

    # A timed wait: a signal delivered to another thread runs its handler only once this thread wakes.
    while not stop.wait(0.2):
        if os.getppid() != parent:  # the supervisor is gone (PR_SET_PDEATHSIG covers Linux only)
            hurried.set()
            stop.set()
    log.info(
        "stopping: no new %s; running ones may finish for up to %g s (Ctrl-C again: stop them now, "
        "their jobs go back to the queue)",
        args.role,
        config.worker_shutdown_timeout_seconds,
    )
    watcher = threading.Thread(target=lambda: hurried.wait() and hurry(worker), daemon=True)
    watcher.start()
    worker.stop(timeout=int((config.worker_shutdown_timeout_seconds + 10) * 1000))
    worker.broker.close()
    log.info("stopped")


if __name__ == "__main__":
    main()
