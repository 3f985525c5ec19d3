"""ScriptBatcher against a real Redis: concurrent calls share round trips, and each gets its own answer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from support import wait_until

from app.storage.batching import ScriptBatcher

ECHO = "return ARGV[1] .. ':' .. KEYS[1]"
FAILS = "return redis.error_reply('no such thing')"


class Held:
    """Holds a batcher's first batch on its way until ``others`` calls wait behind it; records batch sizes
    and what the second batch raises (``break_second``)."""

    def __init__(self, batcher: ScriptBatcher, others: int, break_second: Exception | None = None) -> None:
        self.batcher, self.others, self.break_second = batcher, others, break_second
        self.sizes: list[int] = []
        self.holding = threading.Event()
        self._run = batcher._run

    def __call__(self, batch: list[Any]) -> None:
        self.sizes.append(len(batch))
        if len(self.sizes) == 1:
            self.holding.set()
            wait_until(lambda: len(self.batcher._waiting) == self.others, timeout=10, message="the calls to queue")
        elif len(self.sizes) == 2 and self.break_second is not None:
            raise self.break_second
        self._run(batch)


def _behind_one_call(
    batcher: ScriptBatcher,
    client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    calls: list[Callable[[], Any]],
    break_second: Exception | None = None,
) -> list[Any]:
    """Makes ``calls`` from as many threads while a first call is on the wire, so that they go out as
    one batch; returns their answers, or the errors they raised."""
    held = Held(batcher, len(calls), break_second)
    monkeypatch.setattr(batcher, "_run", held)
    echo = client.register_script(ECHO)

    def attempt(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except redis.RedisError as exc:
            return exc

    with ThreadPoolExecutor(len(calls) + 1) as pool:
        first = pool.submit(batcher.call, echo, ["first"], ["lead"])
        assert held.holding.wait(10)
        answers = list(pool.map(attempt, calls))
        assert first.result() == b"lead:first"
    assert held.sizes == [1, len(calls)]  # the calls went out together, in one batch
    return answers


def _counting_pipelines(client: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records how many commands each pipeline of ``client`` sends."""
    sizes: list[int] = []
    make = client.pipeline

    def pipeline(*args: Any, **kwargs: Any) -> Any:
        pipe = make(*args, **kwargs)
        execute = pipe.execute

        def counted(*a: Any, **k: Any) -> Any:
            sizes.append(len(pipe.command_stack))
            return execute(*a, **k)

        pipe.execute = counted
        return pipe

    monkeypatch.setattr(client, "pipeline", pipeline)
    return sizes


def test_calls_made_while_a_batch_is_on_the_wire_share_one_round_trip(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    pipelines = _counting_pipelines(redis_client, monkeypatch)
    calls = [lambda i=i: batcher.call(echo, [f"key{i}"], [i]) for i in range(20)]
    answers = _behind_one_call(batcher, redis_client, monkeypatch, calls)
    assert answers == [f"{i}:key{i}".encode() for i in range(20)]  # each caller gets its own answer
    assert pipelines == [20]


def test_a_lone_call_is_sent_at_once_and_answers_like_the_script(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    pipelines = _counting_pipelines(redis_client, monkeypatch)
    assert batcher.call(echo, ["k"], ["v"]) == echo(keys=["k"], args=["v"]) == b"v:k"
    assert pipelines == []  # no pipeline for a single call


def test_an_error_in_a_batch_fails_only_its_own_call(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo, fails = redis_client.register_script(ECHO), redis_client.register_script(FAILS)
    calls = [
        lambda: batcher.call(echo, ["a"], [1]),
        lambda: batcher.call(fails, [], []),
        lambda: batcher.call(echo, ["b"], [2]),
    ]
    first, error, third = _behind_one_call(batcher, redis_client, monkeypatch, calls)
    assert (first, third) == (b"1:a", b"2:b")
    assert isinstance(error, redis.ResponseError) and "no such thing" in str(error)


def test_scripts_forgotten_by_redis_are_loaded_again(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    assert batcher.call(echo, ["k"], [0]) == b"0:k"
    redis_client.script_flush()  # as after a Redis restart
    calls = [lambda i=i: batcher.call(echo, ["k"], [i]) for i in range(5)]
    assert _behind_one_call(batcher, redis_client, monkeypatch, calls) == [f"{i}:k".encode() for i in range(5)]


def test_a_broken_batch_fails_each_of_its_calls_and_the_next_batch_goes_out(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    calls = [lambda i=i: batcher.call(echo, ["k"], [i]) for i in range(4)]
    errors = _behind_one_call(batcher, redis_client, monkeypatch, calls, break_second=redis.ConnectionError("lost"))
    assert all(isinstance(e, redis.ConnectionError) and str(e) == "lost" for e in errors), errors
    assert len({id(e) for e in errors}) == 4  # one exception object per caller
    assert batcher.call(echo, ["k"], ["after"]) == b"after:k"  # nobody is left holding the turn
