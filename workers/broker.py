"""QueueBroker: a Dramatiq broker on the platform's Redis queues, through Dramatiq's public interface.

``QueueBroker`` is a ``dramatiq.Broker`` and ``QueueConsumer`` its ``dramatiq.Consumer`` (the
shape of Dramatiq's own ``StubBroker`` and ``RedisBroker``); Dramatiq's ``Worker``, actors and
middleware run on them unchanged. The queues themselves, and what they guarantee (leases, due
times on the Redis server's clock, priorities, wake-ups, fencing), are ``app.storage.queue``.
What this module adds:

- ``enqueue(message, delay=ms)`` puts the message in the queue's due set: no delay queue, no
  message held in a worker's memory until its time. A message's ``priority`` option (0-9, 9 first)
  orders the queue.
- A consumer fetches at most as many messages as it has room for (its prefetch, and the limit a
  worker may set with ``limit_fetching``: a job worker takes no job needing a process it cannot start),
  leases them, and renews the leases of those it holds, from its own thread, every third of the
  lease. Idle, it waits for a wake-up published on its queue or for the moment its last fetch said
  something becomes due (a due time, a lease end), whichever comes first; busy, it waits until a
  thread acknowledges a message. While the queue has a backlog (its last fetch left messages
  deliverable), a consumer of a worker that said how many threads it has (``fetch_in_batches``)
  and holds more messages than that waits before fetching: its threads all have work, and the
  next fetch brings ``prefetch - threads`` messages in one round trip rather than one per message
  acknowledged.
  Redis being down is logged once per outage (``storage.redis.OUTAGE``), not per fetch.
- ``ack`` deletes the message unless a script already settled it (``LeasedMessage.settled``: the
  job and webhook scripts acknowledge or reschedule a message in the same step as they record an
  outcome); ``nack`` moves it to the dead letters; ``requeue`` (prefetched messages of a worker that
  stops) gives them back at the front of their priority, and so does ``give_back`` for one a
  thread holds but will not run (a job that found no algorithm process free).
- ``stop_fetching()`` (called before the worker shuts down, by ``StopFetching``) keeps a stopping
  worker from taking new messages while it lets running ones finish.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable

import dramatiq
from dramatiq.errors import QueueJoinTimeout
from dramatiq.middleware import Middleware

from app.domain.errors import StorageUnavailable
from app.storage.queue import DEFAULT_PRIORITY, QueuedMessage, QueueStore, Receipt

log = logging.getLogger(__name__)

#: Seconds between two fetches while Redis does not answer (never longer than the consumer's timeout).
UNAVAILABLE_BACKOFF_SECONDS = 0.5


class LeasedMessage(dramatiq.MessageProxy):
    """A message as delivered to this worker: which delivery it is, and whether it was settled."""

    def __init__(self, message: dramatiq.Message, delivery: int) -> None:
        super().__init__(message)
        #: The delivery number: what fences this worker's acknowledgement, release or outcome.
        self.delivery = delivery
        #: Set by whoever acknowledged or rescheduled it in a script: the consumer's ack then only forgets it.
        self.settled = False


class Wakeups:
    """One pub/sub subscription per process to the wake-up channels of the queues it consumes."""

    def __init__(self, store: QueueStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._events: dict[str, set[threading.Event]] = collections.defaultdict(set)
        self._listening: frozenset[str] = frozenset()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, queue: str) -> threading.Event:
        event = threading.Event()
        event.set()  # look once at first
        with self._lock:
            self._events[queue].add(event)
            queues = frozenset(q for q, events in self._events.items() if events)
            if queues != self._listening:
                self._restart(queues)
        return event

    def unregister(self, queue: str, event: threading.Event) -> None:
        with self._lock:
            self._events[queue].discard(event)

    def _restart(self, queues: frozenset[str]) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._stop = threading.Event()
        self._listening = queues
        self._thread = threading.Thread(
            target=self._store.listen,
            args=(sorted(queues), self._wake, self._wake_all, self._stop),
            name="queue-wakeups",
            daemon=True,
        )
        self._thread.start()

    def _wake(self, queue: str) -> None:
        with self._lock:
            events = list(self._events.get(queue, ()))
        for event in events:
            event.set()

    def _wake_all(self) -> None:
        with self._lock:
            events = [event for events in self._events.values() for event in events]
        for event in events:
            event.set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)


class QueueConsumer(dramatiq.Consumer):
    """Leases messages of one queue for a worker, within its prefetch (see the module docstring)."""

    def __init__(self, broker: QueueBroker, queue_name: str, prefetch: int, timeout: int) -> None:
        self.broker = broker
        self.queue_name = queue_name
        self.prefetch = prefetch
        self.timeout = timeout / 1000
        self._store = broker.store
        self._lease_ms = broker.lease_ms
        self._cache: collections.deque[LeasedMessage] = collections.deque()
        self._held: dict[str, int] = {}  # message id -> delivery number, for every message leased to us
        self._lock = threading.Lock()
        self._room = threading.Event()
        self._closed = threading.Event()
        self._wakeup = broker.wakeups.register(queue_name)
        self._fetch_at = 0.0  # monotonic time at which to fetch even without a wake-up
        self._backlog = False  # the last fetch left messages deliverable
        #: Under a backlog, fetch only once holding no more than this (every thread still has work).
        self._hold_before_fetching = broker.batch_threads if broker.batch_threads else prefetch
        self._renew_at = time.monotonic() + self._lease_ms / 3000

    def __next__(self) -> LeasedMessage | None:
        self._renew_leases_when_due()
        if self._cache:
            return self._cache.popleft()
        if self.broker.fetching_stopped:
            self._closed.wait(self.timeout)  # only renewing leases now, until the worker stops us
            return None
        with self._lock:
            self._room.clear()  # before counting: room made meanwhile wakes the wait below
            held = len(self._held)
        room = self.prefetch - held
        if self._backlog and held > self._hold_before_fetching:
            self._room.wait(self.timeout)  # every thread has work: fetch a batch once one is free
            return None
        if self.broker.fetch_limit is not None:
            room = min(room, self.broker.fetch_limit(held))
        if room <= 0:
            self._room.wait(self.timeout)
            return None
        now = time.monotonic()
        if not self._wakeup.is_set() and now < self._fetch_at:
            self._wakeup.wait(min(self.timeout, self._fetch_at - now))
            if not self._wakeup.is_set() and time.monotonic() < self._fetch_at:
                return None
        if self.broker.fetching_stopped:  # the worker began to stop while we waited
            return None
        self._wakeup.clear()  # before the fetch: a wake-up during it makes the next look happen
        try:
            fetched = self._store.fetch(self.queue_name, room, self._lease_ms)
        except StorageUnavailable:  # logged once per outage by the storage layer
            self._fetch_at = time.monotonic() + min(self.timeout, UNAVAILABLE_BACKOFF_SECONDS)
            return None
        with self._lock:
            for delivery in fetched.deliveries:
                self._held[delivery.id] = delivery.number
        for delivery in fetched.deliveries:
            self._cache.append(LeasedMessage(dramatiq.Message.decode(delivery.data), delivery.number))
        self._backlog = fetched.more
        if fetched.more and len(fetched.deliveries) < room:
            self._wakeup.set()  # more are deliverable than we took (another consumer's leftovers)
        if fetched.more:
            self._fetch_at = time.monotonic()
        elif fetched.next_in_ms is not None:
            self._fetch_at = time.monotonic() + fetched.next_in_ms / 1000
        else:
            self._fetch_at = float("inf")
        return self._cache.popleft() if self._cache else None

    def _renew_leases_when_due(self) -> None:
        now = time.monotonic()
        if now < self._renew_at:
            return
        self._renew_at = now + self._lease_ms / 3000
        with self._lock:
            held = dict(self._held)
        try:
            lost = self._store.renew(self.queue_name, held, self._lease_ms)
        except StorageUnavailable:
            return  # the leases may run out meanwhile: other workers then run those messages again
        for message_id in lost:
            log.warning("lease of %s message %s was lost: another worker may run it again", self.queue_name, message_id)

    def _forget(self, message: dramatiq.MessageProxy) -> None:
        with self._lock:
            self._held.pop(message.message_id, None)
        self._room.set()

    def room_made(self) -> None:
        """Look again at once if waiting for room (``QueueBroker.limit_changed``)."""
        self._room.set()

    def ack(self, message: LeasedMessage) -> None:
        try:
            if not message.settled:
                self._store.ack(self.queue_name, message.message_id, message.delivery)
        except StorageUnavailable:
            # The lease runs out and the message is delivered again: whoever takes it finds it done.
            log.warning(
                "could not acknowledge %s message %s: Redis is not answering", self.queue_name, message.message_id
            )
        finally:
            self._forget(message)

    def nack(self, message: LeasedMessage) -> None:
        try:
            if not message.settled:
                self._store.dead_letter(self.queue_name, message.message_id, message.delivery)
        except StorageUnavailable:
            log.warning(
                "could not dead-letter %s message %s: Redis is not answering", self.queue_name, message.message_id
            )
        finally:
            self._forget(message)

    def requeue(self, messages: object) -> None:
        for message in list(messages):  # type: ignore[call-overload]
            try:
                self._store.release(self.queue_name, message.message_id, message.delivery, front=True)
            except StorageUnavailable:
                pass  # its lease runs out instead
            finally:
                self._forget(message)

    def close(self) -> None:
        self._closed.set()
        self.broker.wakeups.unregister(self.queue_name, self._wakeup)
        self.broker.forget_consumer(self)


class QueueBroker(dramatiq.Broker):
    """A Dramatiq broker on ``QueueStore``; see the module docstring for what it guarantees."""

    def __init__(self, store: QueueStore, *, lease_seconds: float, middleware: list[Middleware] | None = None) -> None:
        super().__init__(middleware=middleware)
        self.store = store
        self.lease_ms = int(lease_seconds * 1000)
        self.queues: set[str] = set()
        self.wakeups = Wakeups(store)
        #: Set when the worker starts to stop: consumers fetch nothing more.
        self.stopping = threading.Event()
        #: How many more messages a consumer holding so many may fetch now (``limit_fetching``).
        self.fetch_limit: Callable[[int], int] | None = None
        #: The worker's threads, when it fetches in batches under a backlog (``fetch_in_batches``).
        self.batch_threads = 0
        self._consumers: set[QueueConsumer] = set()
        self._consumers_lock = threading.Lock()
        self.add_middleware(StopFetching())

    @property
    def fetching_stopped(self) -> bool:
        return self.stopping.is_set()

    def stop_fetching(self) -> None:
        self.stopping.set()

    def limit_fetching(self, limit: Callable[[int], int]) -> None:
        """Fetch, beyond the prefetch, no more than ``limit(held)`` messages at a time (the consumer
        asks before each fetch, and again whenever it acknowledges a message or ``limit_changed``
        is called)."""
        self.fetch_limit = limit

    def fetch_in_batches(self, threads: int) -> None:
        """Under a backlog, consumers created after this fetch only when holding no more messages
        than ``threads`` (the worker's): one round trip brings ``prefetch - threads`` of them."""
        self.batch_threads = threads

    def limit_changed(self) -> None:
        """The fetch limit may allow more now: consumers waiting for room look again."""
        with self._consumers_lock:
            consumers = list(self._consumers)
        for consumer in consumers:
            consumer.room_made()

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 1000) -> QueueConsumer:
        consumer = QueueConsumer(self, queue_name, prefetch, timeout)
        with self._consumers_lock:
            self._consumers.add(consumer)
        return consumer

    def forget_consumer(self, consumer: QueueConsumer) -> None:
        with self._consumers_lock:
            self._consumers.discard(consumer)

    def declare_queue(self, queue_name: str) -> None:
        """Declare a queue (idempotent). There are no delay queues: a delay is a due time in the same queue."""
        if queue_name not in self.queues:
            self.emit_before("declare_queue", queue_name)
            self.queues.add(queue_name)
            self.emit_after("declare_queue", queue_name)

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        """Put ``message`` on its queue, deliverable after ``delay`` ms; a queued message of the same
        id is replaced (a retry moves back from its lease)."""
        priority = message.options.get("priority", DEFAULT_PRIORITY)
        self.emit_before("enqueue", message, delay)
        self.store.enqueue(
            QueuedMessage(message.queue_name, message.message_id, message.encode(), priority, int(delay or 0))
        )
        self.emit_after("enqueue", message, delay)
        return message

    def get_declared_queues(self) -> set[str]:
        return self.queues.copy()

    def flush(self, queue_name: str) -> None:
        self.store.flush(queue_name)

    def flush_all(self) -> None:
        for queue_name in self.queues:
            self.flush(queue_name)

    def join(self, queue_name: str, *, timeout: int | None = None) -> None:
        """Wait until the queue has no message deliverable, due or leased (for tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout / 1000
        while True:
            counts = self.store.counts(queue_name)
            if counts.ready + counts.due + counts.leased == 0:
                return
            if deadline is not None and time.monotonic() >= deadline:
                raise QueueJoinTimeout(queue_name)
            time.sleep(0.01)

    def give_back(self, message: LeasedMessage) -> None:
        """Return a message this worker holds but will not process to its queue, at the front of
        its priority (as ``requeue`` does for a stopping worker's prefetched ones), and mark it
        settled; when Redis does not answer, its lease runs out instead."""
        try:
            self.store.release(message.queue_name, message.message_id, message.delivery, front=True)
        except StorageUnavailable:
            log.warning(
                "could not give back %s message %s: Redis is not answering", message.queue_name, message.message_id
            )
        message.settled = True

    def receipt(self, message: LeasedMessage) -> Receipt:
        """What a script needs to settle ``message`` in the same step as it records an outcome."""
        return Receipt(message.queue_name, message.message_id, message.delivery)

    def close(self) -> None:
        self.wakeups.close()


class StopFetching(Middleware):
    """A worker shutting down takes no new messages; those it holds may finish."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if isinstance(broker, QueueBroker):
            broker.stop_fetching()
