"""QueueStore against a real Redis: leases, fencing, due times, priorities, in-place re-enqueue."""

from __future__ import annotations

import threading
import time

import pytest
import redis
from support import wait_until

from app.storage.keys import Keys
from app.storage.queue import DEFAULT_PRIORITY, QueueCounts, QueuedMessage, QueueStore

Q = "test"


@pytest.fixture
def store(redis_client: redis.Redis) -> QueueStore:
    return QueueStore(redis_client, Keys("fs"))


def _put(store: QueueStore, id_: str, priority: int = DEFAULT_PRIORITY, delay_ms: int = 0) -> None:
    store.enqueue(QueuedMessage(Q, id_, f"data-{id_}".encode(), priority, delay_ms))


def _ids(store: QueueStore, count: int = 100, lease_ms: int = 10_000) -> list[str]:
    return [d.id for d in store.fetch(Q, count, lease_ms).deliveries]


def test_a_message_is_delivered_once_then_acknowledged_away(store: QueueStore, redis_client: redis.Redis) -> None:
    _put(store, "a")
    [delivery] = store.fetch(Q, 10, 10_000).deliveries
    assert (delivery.id, delivery.data, delivery.number) == ("a", b"data-a", 1)
    assert store.fetch(Q, 10, 10_000).deliveries == []
    assert store.ack(Q, "a", 1)
    assert store.counts(Q) == QueueCounts(0, 0, 0, 0)
    assert [k for k in redis_client.keys("fs:queue:test:*") if k != b"fs:queue:test:sequence"] == []


def test_higher_priority_first_and_fifo_within_a_priority(store: QueueStore) -> None:
    for id_, priority in [("low1", 1), ("mid1", 5), ("high", 9), ("low2", 1), ("mid2", 5), ("low3", 1)]:
        _put(store, id_, priority)
    assert _ids(store, 2) == ["high", "mid1"]
    assert _ids(store) == ["mid2", "low1", "low2", "low3"]


def test_an_expired_lease_delivers_the_message_again_with_the_next_number(store: QueueStore) -> None:
    _put(store, "a")
    [first] = store.fetch(Q, 1, lease_ms=50).deliveries
    again = wait_until(lambda: store.fetch(Q, 1, 10_000).deliveries, timeout=5, message="the lease to run out")
    assert [(d.id, d.number) for d in again] == [("a", 2)]
    # the first holder, back from the dead, can neither acknowledge, release nor renew it
    assert not store.ack(Q, "a", first.number)
    assert not store.release(Q, "a", first.number)
    assert store.renew(Q, {"a": first.number}, 10_000) == {"a"}
    assert store.renew(Q, {"a": 2}, 10_000) == set()
    assert store.ack(Q, "a", 2)


def test_a_renewed_lease_keeps_the_message(store: QueueStore) -> None:
    _put(store, "a")
    [delivery] = store.fetch(Q, 1, lease_ms=300).deliveries
    deadline = time.monotonic() + 0.9
    while time.monotonic() < deadline:  # three lease lengths, renewed
        assert store.renew(Q, {"a": delivery.number}, 300) == set()
        assert store.fetch(Q, 1, 10_000).deliveries == []
    assert store.ack(Q, "a", delivery.number)


def test_a_delayed_message_waits_for_its_time_and_fetch_says_when(store: QueueStore) -> None:
    _put(store, "late", delay_ms=400)
    fetched = store.fetch(Q, 1, 10_000)
    assert fetched.deliveries == [] and 300 < fetched.next_in_ms <= 400
    time.sleep(fetched.next_in_ms / 1000)  # the time fetch said: it must be due then, not later
    assert _ids(store) == ["late"]


def test_fetch_says_when_a_lease_runs_out(store: QueueStore) -> None:
    _put(store, "a")
    store.fetch(Q, 1, lease_ms=5_000)
    next_in_ms = store.fetch(Q, 1, 10_000).next_in_ms
    assert 4_000 < next_in_ms <= 5_000


def test_release_with_a_delay_and_at_the_front(store: QueueStore) -> None:
    for id_ in ("a", "b", "c"):
        _put(store, id_)
    [a] = store.fetch(Q, 1, 10_000).deliveries
    assert store.release(Q, "a", a.number, front=True)
    assert _ids(store, 1) == ["a"]  # ahead of b and c
    [b] = store.fetch(Q, 1, 10_000).deliveries
    assert store.release(Q, "b", b.number, delay_ms=200)
    assert _ids(store) == ["c"]
    assert wait_until(lambda: _ids(store), timeout=5, message="b to be due") == ["b"]


def test_enqueuing_a_queued_id_replaces_it_in_place(store: QueueStore, redis_client: redis.Redis) -> None:
    _put(store, "a")
    [held] = store.fetch(Q, 1, 10_000).deliveries
    store.enqueue(QueuedMessage(Q, "a", b"retry", DEFAULT_PRIORITY, 100))  # as Retries does
    assert not store.ack(Q, "a", held.number)  # the old delivery's ack is a no-op now
    [again] = wait_until(lambda: store.fetch(Q, 1, 10_000).deliveries, timeout=5, message="the retry")
    assert (again.data, again.number) == (b"retry", 2)
    _put(store, "b")
    _put(store, "b")
    assert store.counts(Q).ready == 1


def test_dead_letters_are_kept_apart(store: QueueStore) -> None:
    _put(store, "a")
    [held] = store.fetch(Q, 1, 10_000).deliveries
    assert store.dead_letter(Q, "a", held.number)
    assert store.counts(Q) == QueueCounts(0, 0, 0, 1)


def test_wakeups_are_published_for_new_and_delayed_messages(store: QueueStore) -> None:
    woken: list[str] = []
    subscribed = threading.Event()
    stop = threading.Event()
    listener = threading.Thread(target=store.listen, args=([Q], woken.append, subscribed.set, stop), daemon=True)
    listener.start()
    try:
        assert subscribed.wait(5)
        _put(store, "now")
        _put(store, "later", delay_ms=60_000)
        wait_until(lambda: len(woken) == 2, timeout=5, message="two wake-ups")
        assert woken == [Q, Q]
    finally:
        stop.set()
        listener.join(5)


def test_priorities_outside_0_to_9_are_refused(store: QueueStore) -> None:
    with pytest.raises(ValueError, match="0 to 9"):
        _put(store, "a", priority=10)
