"""Live job events (``GET /jobs/{id}/events``): status changes, progress and webhook attempts.

Events are made from the job's state, not kept in a log: a stream reads the job when it is told
that the job changed, and sends what differs from what it sent last. Every change of a job raises
its version (``Job.version``), which is each event's id; a client that reconnects with
``Last-Event-ID`` gets the current status and progress if anything changed since that version, and
the webhook attempts recorded since (each carries the version it was recorded at). Intermediate
states a client missed while away are not replayed: the job's ``attempt_history`` keeps its runs.

One ``EventHub`` per web process holds the only Redis subscription (``JobEventsChannel``) and wakes
the streams of the jobs announced; at most ``max_streams`` streams are open at once (each holds a
web thread), the next ones get 503.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from app.domain.errors import JobNotFound, TooManyStreams
from app.domain.models import Job
from app.storage.events import JobEventsChannel

log = logging.getLogger(__name__)

#: How long a stream's interest in its job lasts in Redis unless renewed (streams renew it at each
#: keep-alive, so a web process that dies stops the announcements within this time).
WATCH_SECONDS = 60.0
#: Seconds between keep-alive comments on an idle stream (so proxies and clients see it is alive,
#: and a client gone is noticed).
KEEPALIVE_SECONDS = 15.0
#: Longest a stream stays open; the client reconnects with Last-Event-ID and misses nothing.
MAX_STREAM_SECONDS = 300.0


@dataclass(frozen=True)
class Event:
    """One event of a stream: its kind (``status``, ``progress``, ``webhook``, ``end``), what it
    carries (a ``Job``, ``Progress``, ``WebhookAttempt`` or a dict) and its id (the job's version)."""

    kind: str
    data: Any
    id: int


class Subscription:
    """A stream's interest in one job: ``wait`` returns True once the job may have changed."""

    def __init__(self, hub: EventHub, job_id: str) -> None:
        self.job_id = job_id
        self._hub = hub
        self._woken = threading.Event()

    def wake(self) -> None:
        self._woken.set()

    def wait(self, seconds: float) -> bool:
        woken = self._woken.wait(seconds)
        self._woken.clear()
        return woken

    def renew(self) -> None:
        """Keep the job's changes announced for another ``WATCH_SECONDS``."""
        self._hub.channel.watch([self.job_id], WATCH_SECONDS)

    @property
    def released(self) -> bool:
        return self._hub.released.is_set()

    def close(self) -> None:
        self._hub.close(self)


class EventHub:
    def __init__(self, channel: JobEventsChannel, max_streams: int) -> None:
        self.channel = channel
        self.max_streams = max_streams
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._subscriptions: dict[str, set[Subscription]] = defaultdict(set)
        self._open = 0
        self._listener: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def open_streams(self) -> int:
        return self._open

    def subscribe(self, job_id: str) -> Subscription:
        """Interest in ``job_id``'s changes, from now on; ``TooManyStreams`` at the limit,
        ``SERVICE_UNAVAILABLE`` when Redis does not answer."""
        subscription = Subscription(self, job_id)
        with self._lock:
            if self._open >= self.max_streams or self.released.is_set():
                raise TooManyStreams(self.max_streams)
            self._open += 1
            self._subscriptions[job_id].add(subscription)
        try:
            self._ensure_listener()
            subscription.renew()
        except BaseException:
            self.close(subscription)
            raise
        return subscription

    def close(self, subscription: Subscription) -> None:
        with self._lock:
            subscribed = self._subscriptions.get(subscription.job_id)
            if subscribed is None or subscription not in subscribed:
                return
            subscribed.discard(subscription)
            if not subscribed:
                del self._subscriptions[subscription.job_id]
            self._open -= 1

    def _ensure_listener(self) -> None:
        with self._lock:
            if self._listener is not None and self._listener.is_alive():
                return
            self._listener = threading.Thread(
                target=self.channel.listen,
                args=(self._wake, self._wake_all, self._stop),
                name="job-events",
                daemon=True,
            )
            self._listener.start()

    def _wake(self, job_id: str) -> None:
        with self._lock:
            subscriptions = list(self._subscriptions.get(job_id, ()))
        for subscription in subscriptions:
            subscription.wake()

    def _wake_all(self) -> None:
        with self._lock:
            subscriptions = [s for subscribed in self._subscriptions.values() for s in subscribed]
        for subscription in subscriptions:
            subscription.wake()

    def release_all(self) -> None:
        """The process is stopping: every stream ends now (clients reconnect elsewhere), none starts."""
        self.released.set()
        self._wake_all()

    def close_all(self) -> None:
        self._stop.set()
        if self._listener is not None:
            self._listener.join(timeout=2)


def job_events(
    read: Callable[[], Job],
    subscription: Subscription,
    first: Job,
    last_event_id: int | None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Event | None]:
    """The events of a job from ``first`` (read after ``subscription`` began) on: None stands for a
    keep-alive. Ends once the job has finished and its webhook (if any) is settled, after
    ``MAX_STREAM_SECONDS``, or when the process stops; always closes ``subscription``."""
    try:
        deadline = clock() + MAX_STREAM_SECONDS
        sent: Job | None = None
        job = first
        while True:
            yield from _changes(sent, job, last_event_id)
            sent, last_event_id = job, job.version
            if _settled(job):
                yield Event("end", {"status": job.status.value}, job.version)
                return
            while not subscription.wait(min(KEEPALIVE_SECONDS, max(0.0, deadline - clock()))):
                if subscription.released or clock() >= deadline:
                    return
                subscription.renew()
                yield None
            if subscription.released:
                return
            try:
                job = read()
            except JobNotFound:  # expired meanwhile
                yield Event("end", {"status": "expired"}, sent.version)
                return
    finally:
        subscription.close()


def _settled(job: Job) -> bool:
    """Nothing more will happen to it (unless someone retries it or redelivers its webhook)."""
    return job.status.finished and (job.webhook is None or job.webhook.state.value != "pending")


def _changes(sent: Job | None, job: Job, last_event_id: int | None) -> Iterator[Event]:
    """The events that bring a client that has ``sent`` (or, first, state as of ``last_event_id``)
    up to ``job``."""
    if sent is None:
        if last_event_id is not None and job.version <= last_event_id:
            return  # a reconnection, nothing new
        yield Event("status", job, job.version)
        if job.progress is not None:
            yield Event("progress", job.progress, job.version)
        if last_event_id is not None and job.webhook is not None:
            for attempt in job.webhook.attempts:
                if attempt.version > last_event_id:
                    yield Event("webhook", attempt, job.version)
        return
    if _status_of(job) != _status_of(sent):
        yield Event("status", job, job.version)
    if job.progress is not None and job.progress != sent.progress:
        yield Event("progress", job.progress, job.version)
    if job.webhook is not None:
        for attempt in job.webhook.attempts:
            if attempt.version > sent.version:
                yield Event("webhook", attempt, job.version)


def _status_of(job: Job) -> tuple[Any, ...]:
    """What a ``status`` event is about: everything but progress and the webhook's log."""
    webhook = job.webhook
    return (
        job.status,
        job.attempts,
        job.started_at,
        job.completed_at,
        job.next_run_at,
        job.cancel_requested,
        job.crashes,
        (webhook.state, webhook.series) if webhook is not None else None,
    )
