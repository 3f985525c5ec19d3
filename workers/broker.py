"""The workers' Redis broker: Dramatiq's, with crash recovery on a schedule and a consumer that
waits for events instead of polling.

Dramatiq requeues the messages of a dead worker only during "maintenance", which it runs on a
random 0.1 % of broker calls and only for the queue of that call: with an idle queue a crashed job
can wait many minutes. Here random maintenance is off, and ``Maintenance`` runs it for every
consumed queue every few seconds, which also keeps this worker's heartbeat fresh.

Dramatiq's consumer sleeps after every empty fetch, backing off up to its timeout, both when the
queue is empty and when its threads are all busy: a job sent to an idle worker waits up to that
timeout, and a thread that frees up waits for the consumer to wake. ``WakingConsumer`` blocks on
the queue's wake-up list instead (``JobStore.create`` pushes a token with every message), and
refills as soon as a thread acknowledges its message.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import AgeLimit, CurrentMessage, Middleware, Retries, ShutdownNotifications

from app.config import Config
from app.storage.keys import Keys
from app.storage.queue import Receipt
from app.storage.redis import UNAVAILABLE

log = logging.getLogger(__name__)


class Closable(Protocol):
    def close(self) -> None: ...


class WakingConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, waiting on events rather than sleeping between fetches.

    Idle (nothing fetched): blocks on the queue's wake-up list, at most ``timeout`` ms. Busy (as
    many messages outstanding as it may prefetch): waits until a thread acknowledges one.
    """

    def __init__(self, broker: WorkerBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)
        self._wakeup = broker.keys.queue_wakeup(queue_name)
        self._room = threading.Event()

    def ack(self, message: dramatiq.MessageProxy) -> None:
        try:
            if self.broker.acknowledged(message):
                self.queued_message_ids.discard(message.message_id)
            else:
                super().ack(message)
        finally:
            self._room.set()

    def nack(self, message: dramatiq.MessageProxy) -> None:
        try:
            super().nack(message)
        finally:
            self._room.set()

    def __next__(self) -> dramatiq.MessageProxy | None:
        if not self.message_cache:
            if self.outstanding_message_count >= self.prefetch:
                self._room.clear()
                if self.outstanding_message_count >= self.prefetch:  # no ack between the check and clear
                    self._room.wait(self.timeout / 1000)
                return None
            try:
                self.message_cache = self.broker.do_fetch(
                    self.queue_name, self.prefetch - self.outstanding_message_count
                )
                if not self.message_cache:
                    self.broker.client.blpop([self._wakeup], timeout=self.timeout / 1000)
                    return None
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None
        return super().__next__()  # takes from the cache: no fetch, no sleep


class WorkerBroker(RedisBroker):
    """RedisBroker whose maintenance runs only when ``run_maintenance`` asks for it, consuming with
    ``WakingConsumer``."""

    def __init__(self, *, keys: Keys, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.keys = keys
        self._forced = threading.local()
        self._acknowledged: set[str] = set()
        self._acknowledged_lock = threading.Lock()

    @property
    def consumer_class(self) -> type[WakingConsumer]:
        return WakingConsumer

    def receipt(self, message: dramatiq.Message) -> Receipt:
        """What acknowledging ``message`` removes, for a script to do it (see ``mark_acknowledged``)."""
        return Receipt(
            acks=f"{self.namespace}:__acks__.{self.broker_id}.{message.queue_name}",
            messages=self.keys.queue_messages(message.queue_name),
            message_id=message.options["redis_message_id"],
        )

    def mark_acknowledged(self, message: dramatiq.Message) -> None:
        """``message`` was acknowledged with its receipt: the consumer's own ack is skipped."""
        with self._acknowledged_lock:
            self._acknowledged.add(message.options["redis_message_id"])

    def acknowledged(self, message: dramatiq.MessageProxy) -> bool:
        with self._acknowledged_lock:
            try:
                self._acknowledged.remove(message.options["redis_message_id"])
            except KeyError:
                return False
            return True

    def _should_do_maintenance(self, command: str) -> int:
        return int(getattr(self._forced, "active", False))

    def run_maintenance(self, queue_name: str) -> None:
        """Requeue the unacked messages of workers silent past the heartbeat timeout, for one queue."""
        self._forced.active = True
        try:
            self.do_qsize(queue_name)
        finally:
            self._forced.active = False


class Maintenance(Middleware):
    """Every ``interval_seconds``, runs broker maintenance for each queue this worker consumes."""

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(broker, worker), name="broker-maintenance", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _run(self, broker: WorkerBroker, worker: dramatiq.Worker) -> None:
        while True:
            for queue_name in sorted(worker.consumers):
                try:
                    broker.run_maintenance(queue_name)
                except UNAVAILABLE:
                    log.debug("maintenance of %s skipped: Redis is not answering", queue_name)
                except Exception:
                    # Keep the thread alive: it is what brings back the jobs of crashed workers.
                    log.exception("maintenance of %s failed", queue_name)
            if self._stop.wait(self.interval_seconds):
                return


class CloseOnShutdown(Middleware):
    """Closes what the worker's threads used (executor, watchers, metrics) once they have stopped."""

    def __init__(self, *closables: Closable) -> None:
        self.closables = closables

    def after_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        for closable in self.closables:
            closable.close()


def build_worker_broker(config: Config, client: redis.Redis) -> WorkerBroker:
    heartbeat_ms = int(config.worker_heartbeat_timeout_seconds * 1000)
    keys = Keys(config.redis_namespace)
    return WorkerBroker(
        client=client,
        namespace=keys.dramatiq,
        keys=keys,
        heartbeat_timeout=heartbeat_ms,
        middleware=[
            CurrentMessage(),
            AgeLimit(),
            ShutdownNotifications(),
            Retries(max_retries=0),
            Maintenance(interval_seconds=config.worker_heartbeat_timeout_seconds / 3),
        ],
    )
