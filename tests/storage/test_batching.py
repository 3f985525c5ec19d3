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
# Holds Redis (single-threaded) for about ARGV[1] ms, so that calls made meanwhile pile up.
BUSY = """
local t = redis.call('TIME')
local until_us = t[1] * 1000000 + t[2] + ARGV[1] * 1000
repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] >= until_us
return 'busy'
"""
FAILS = "return redis.error_reply('no such thing')"


def _counting_pipelines(client: redis.Redis) -> list[int]:
    """Records how many commands each pipeline of ``client`` sent."""
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

    client.pipeline = pipeline  # type: ignore[method-assign]
    return sizes


def _while_redis_is_busy(batcher: ScriptBatcher, client: redis.Redis, calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs ``calls`` from as many threads while a long script holds Redis; returns answers or errors."""
    busy = client.register_script(BUSY)
    with ThreadPoolExecutor(len(calls) + 1) as pool:
        holder = pool.submit(batcher.call, busy, ["k"], [300])
        wait_until(lambda: batcher._sending, timeout=5, message="the long script to be sent")

        def attempt(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except redis.RedisError as exc:
                return exc

        answers = list(pool.map(attempt, calls))
        assert holder.result() == b"busy"
    return answers


def test_calls_made_while_a_batch_is_on_the_wire_go_out_together(redis_client: redis.Redis) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    sizes = _counting_pipelines(redis_client)
    calls = [lambda i=i: batcher.call(echo, [f"key{i}"], [i]) for i in range(20)]
    answers = _while_redis_is_busy(batcher, redis_client, calls)
    assert answers == [f"{i}:key{i}".encode() for i in range(20)]  # each caller gets its own answer
    assert sum(sizes) >= 19 and len(sizes) <= 2, sizes  # in one or two round trips, not twenty


def test_a_lone_call_is_sent_at_once_and_answers_like_the_script(redis_client: redis.Redis) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    sizes = _counting_pipelines(redis_client)
    assert batcher.call(echo, ["k"], ["v"]) == echo(keys=["k"], args=["v"]) == b"v:k"
    assert sizes == []  # no pipeline for a single call


def test_an_error_fails_only_its_own_call(redis_client: redis.Redis) -> None:
    batcher = ScriptBatcher(redis_client)
    echo, fails = redis_client.register_script(ECHO), redis_client.register_script(FAILS)
    calls = [
        lambda: batcher.call(echo, ["a"], [1]),
        lambda: batcher.call(fails, [], []),
        lambda: batcher.call(echo, ["b"], [2]),
    ]
    first, error, third = _while_redis_is_busy(batcher, redis_client, calls)
    assert (first, third) == (b"1:a", b"2:b")
    assert isinstance(error, redis.ResponseError) and "no such thing" in str(error)


def test_scripts_forgotten_by_redis_are_loaded_again(redis_client: redis.Redis) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    assert batcher.call(echo, ["k"], [0]) == b"0:k"
    redis_client.script_flush()  # as after a Redis restart
    calls = [lambda i=i: batcher.call(echo, ["k"], [i]) for i in range(5)]
    assert _while_redis_is_busy(batcher, redis_client, calls) == [f"{i}:k".encode() for i in range(5)]


def test_a_broken_batch_fails_its_calls_and_the_next_batch_goes_out(
    redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(redis_client)
    echo = redis_client.register_script(ECHO)
    run, broken = batcher._run, threading.Event()

    def break_once(batch: list[Any]) -> None:
        if not broken.is_set():
            broken.set()
            raise redis.ConnectionError("connection lost")
        run(batch)

    monkeypatch.setattr(batcher, "_run", break_once)
    with pytest.raises(redis.ConnectionError):
        batcher.call(echo, ["k"], [1])
    assert batcher.call(echo, ["k"], [2]) == b"2:k"  # not left waiting for the broken batch
