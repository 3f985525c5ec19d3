"""QueueBroker under Dramatiq's own Worker, actors and middleware, on a real Redis.

Dramatiq is used as designed on it: delays through ``enqueue(delay=)``, Retries, AgeLimit,
TimeLimit and CurrentMessage unchanged; and what the queue promises holds under a real worker:
due times, priorities, wake-ups, leases.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dramatiq
import pytest
from dramatiq.middleware import AgeLimit, CurrentMessage, Retries, ShutdownNotifications, TimeLimit
from support import wait_until

from app.infra.config import Config
from workers.broker import LeasedMessage, QueueBroker
from workers.process import build_broker

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    """What the test actors saw: (monotonic time, args, delivery number), in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, tuple, int]] = []
        self.lock = threading.Lock()

    def note(self, *args: object) -> None:
        message: LeasedMessage = CurrentMessage.get_current_message()
        with self.lock:
            self.calls.append((time.monotonic(), args, message.delivery))

    def args(self) -> list[tuple]:
        with self.lock:
            return [args for _, args, _ in self.calls]


@pytest.fixture
def broker(config: Config, services) -> Iterator[QueueBroker]:
    broker = build_broker(config, services.queues)
    yield broker
    broker.close()


def _worker(broker: QueueBroker, threads: int = 2) -> dramatiq.Worker:
    broker.emit_after("process_boot")  # as Dramatiq's CLI does: TimeLimit starts its watch here
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.queue_prefetch = threads
    worker.start()
    return worker


def test_no_private_name_of_dramatiq_is_used_by_the_product() -> None:
    found = subprocess.run(
        ["grep", "-rnE", r"dramatiq\.[a-z_.]*\._|from dramatiq[a-z_.]* import _", "app", "workers", "algorithms"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1 and found.stdout == "", found.stdout  # grep found nothing


def test_the_middleware_dramatiq_offers_is_the_broker_s(broker: QueueBroker) -> None:
    kinds = {type(m) for m in broker.middleware}
    assert {CurrentMessage, AgeLimit, TimeLimit, ShutdownNotifications, Retries} <= kinds


def test_a_delayed_message_runs_at_its_time_not_before(broker: QueueBroker) -> None:
    recorder = Recorder()
    dramatiq.actor(recorder.note, broker=broker, actor_name="note", queue_name="test", max_retries=0)
    worker = _worker(broker)
    try:
        sent = time.monotonic()
        broker.enqueue(broker.get_actor("note").message("late"), delay=400)
        broker.enqueue(broker.get_actor("note").message("now"))
        wait_until(lambda: len(recorder.calls) == 2, timeout=10, message="both messages")
    finally:
        worker.stop()
    (now_at, _, _), (late_at, _, _) = recorder.calls
    assert recorder.args() == [("now",), ("late",)]
    assert now_at - sent < 0.4
    assert 0.4 <= late_at - sent < 0.4 + 0.3  # on time: the wait is timed by the fetch, not polled


def test_a_failing_actor_is_retried_by_dramatiq_s_retries_through_the_due_set(broker: QueueBroker) -> None:
    recorder = Recorder()

    def flaky(n: int) -> None:
        recorder.note(n)
        if len(recorder.calls) < 3:
            raise RuntimeError("not yet")

    dramatiq.actor(
        flaky, broker=broker, actor_name="flaky", queue_name="test", max_retries=5, min_backoff=100, max_backoff=200
    )
    worker = _worker(broker)
    try:
        broker.enqueue(broker.get_actor("flaky").message(1))
        wait_until(lambda: len(recorder.calls) == 3, timeout=10, message="two retries")
        broker.join("test", timeout=5000)
    finally:
        worker.stop()
    times = [at for at, _, _ in recorder.calls]
    assert all(later - earlier >= 0.05 for earlier, later in itertools.pairwise(times))  # backoff was waited
    assert [delivery for _, _, delivery in recorder.calls] == [1, 2, 3]  # one message, delivered again in place
    assert broker.store.counts("test").dead == 0


def test_a_message_past_its_age_limit_is_dead_lettered(broker: QueueBroker) -> None:
    recorder = Recorder()
    dramatiq.actor(recorder.note, broker=broker, actor_name="note", queue_name="test", max_age=50, max_retries=0)
    broker.enqueue(broker.get_actor("note").message("stale"), delay=200)  # waits past its age limit
    worker = _worker(broker)
    try:
        wait_until(lambda: broker.store.counts("test").dead == 1, timeout=10, message="the dead letter")
    finally:
        worker.stop()
    assert recorder.calls == []


def test_an_actor_over_its_time_limit_is_interrupted(broker: QueueBroker) -> None:
    finished = threading.Event()

    def slow() -> None:
        for _ in range(100):  # Python code: TimeLimit's asynchronous exception lands between steps
            time.sleep(0.05)
        finished.set()

    dramatiq.actor(slow, broker=broker, actor_name="slow", queue_name="test", time_limit=300, max_retries=0)
    worker = _worker(broker)
    try:
        broker.enqueue(broker.get_actor("slow").message())
        wait_until(lambda: broker.store.counts("test").dead == 1, timeout=10, message="the interrupted message")
    finally:
        worker.stop()
    assert not finished.is_set()


def test_higher_priority_messages_go_first(broker: QueueBroker) -> None:
    recorder = Recorder()
    release = threading.Event()

    def gate() -> None:
        release.wait(10)

    dramatiq.actor(gate, broker=broker, actor_name="gate", queue_name="test", max_retries=0)
    dramatiq.actor(recorder.note, broker=broker, actor_name="note", queue_name="test", max_retries=0)
    worker = _worker(broker, threads=1)
    try:
        broker.enqueue(broker.get_actor("gate").message())
        wait_until(lambda: broker.store.counts("test").leased == 1, timeout=10, message="the gate to hold the thread")
        for n, priority in [(1, 1), (2, 5), (3, 9), (4, 1), (5, 9)]:
            broker.enqueue(broker.get_actor("note").message_with_options(args=(n,), priority=priority))
        release.set()
        wait_until(lambda: len(recorder.calls) == 5, timeout=10, message="every message")
    finally:
        worker.stop()
    assert recorder.args() == [(3,), (5,), (2,), (1,), (4,)]


def test_an_idle_worker_wakes_at_once_for_a_new_message(broker: QueueBroker) -> None:
    recorder = Recorder()
    dramatiq.actor(recorder.note, broker=broker, actor_name="note", queue_name="test", max_retries=0)
    worker = _worker(broker)
    try:
        broker.enqueue(broker.get_actor("note").message(0))  # the worker has started, consumed, and is idle
        wait_until(lambda: recorder.calls, timeout=10, message="the first message")
        latencies = []
        for n in range(1, 6):
            sent = time.monotonic()
            broker.enqueue(broker.get_actor("note").message(n))
            wait_until(lambda n=n: len(recorder.calls) == n + 1, timeout=10, message=f"message {n}")
            latencies.append(recorder.calls[-1][0] - sent)
    finally:
        worker.stop()
    assert sorted(latencies)[2] < 0.05, latencies  # the median: woken by its publication, not a poll


def test_an_expired_lease_is_delivered_again_to_a_live_worker(broker: QueueBroker, services) -> None:
    recorder = Recorder()
    dramatiq.actor(recorder.note, broker=broker, actor_name="note", queue_name="test", max_retries=0)
    broker.enqueue(broker.get_actor("note").message("orphan"))
    [taken] = services.queues.fetch("test", 1, lease_ms=300).deliveries  # a worker that then died
    worker = _worker(broker)
    try:
        wait_until(lambda: recorder.calls, timeout=10, message="the rerun")
    finally:
        worker.stop()
    [(_, args, delivery)] = recorder.calls
    assert (args, delivery) == (("orphan",), taken.number + 1)


def test_the_broker_keeps_its_keys_where_keys_py_says(broker: QueueBroker, redis_client) -> None:
    broker.declare_queue("test")
    broker.enqueue(dramatiq.Message(queue_name="test", actor_name="x", args=(), kwargs={}, options={}), delay=60_000)
    names = {key.decode() for key in redis_client.keys("*")}
    assert names and all(re.fullmatch(r"fs:queue:test:[a-z-]+", name) for name in names), names


def _take(consumer, count: int) -> list[LeasedMessage]:
    """The next ``count`` messages the consumer delivers (it answers None while it waits)."""
    taken: list[LeasedMessage] = []

    def more() -> bool:
        message = next(consumer)
        if message is not None:
            taken.append(message)
        return len(taken) >= count

    wait_until(more, timeout=10, interval=0, message=f"{count} messages")
    return taken


def test_under_a_backlog_a_consumer_whose_threads_all_have_work_fetches_in_batches(broker: QueueBroker) -> None:
    dramatiq.actor(lambda n: None, broker=broker, actor_name="noop", queue_name="test", max_retries=0)
    for n in range(20):
        broker.enqueue(broker.get_actor("noop").message(n))
    broker.fetch_in_batches(threads=4)
    consumer = broker.consume("test", prefetch=8, timeout=50)
    try:
        held = _take(consumer, 8)
        assert broker.store.counts("test").ready == 12  # a backlog left behind
        consumer.ack(held.pop())
        assert next(consumer) is None  # seven in hand for four threads: no round trip for one message
        assert broker.store.counts("test").ready == 12
        for message in held[:3]:
            consumer.ack(message)
        assert len(_take(consumer, 4)) == 4  # four in hand: a thread may be free, a batch of four
        assert broker.store.counts("test").ready == 8
    finally:
        consumer.close()


def test_without_a_backlog_a_consumer_fetches_a_message_as_soon_as_it_has_room(broker: QueueBroker) -> None:
    dramatiq.actor(lambda n: None, broker=broker, actor_name="noop", queue_name="test", max_retries=0)
    for n in range(8):
        broker.enqueue(broker.get_actor("noop").message(n))
    consumer = broker.consume("test", prefetch=8, timeout=50)
    try:
        held = _take(consumer, 8)
        broker.enqueue(broker.get_actor("noop").message(8))
        consumer.ack(held.pop())
        [late] = _take(consumer, 1)
        assert late.args == (8,)
    finally:
        consumer.close()


def test_a_consumer_waiting_for_room_looks_again_when_the_limit_changes(broker: QueueBroker) -> None:
    dramatiq.actor(lambda n: None, broker=broker, actor_name="noop", queue_name="test", max_retries=0)
    broker.enqueue(broker.get_actor("noop").message(0))
    room = threading.Event()
    broker.limit_fetching(lambda held: 1 if room.is_set() else 0)
    consumer = broker.consume("test", prefetch=8, timeout=30_000)  # a wait for room lasts up to 30 s
    opener = threading.Timer(0.2, lambda: (room.set(), broker.limit_changed()))
    try:
        began = time.monotonic()
        opener.start()
        [message] = _take(consumer, 1)  # no room: it waits, until told the limit changed
        assert time.monotonic() - began < 15  # woken, not timed out
        assert message.args == (0,)
    finally:
        opener.cancel()
        consumer.close()
