"""ScriptBatcher: Lua script calls from many threads, sent together, one round trip per batch.

A worker's threads each start and finish jobs with one script call. On a busy worker those round
trips, not Redis, are the cost (syscalls and waiting), so calls that arrive while a batch is on the
wire go out together in the next one, as a database groups commits. A lone call is sent at once:
batching never adds a wait. Each script stays atomic on its own; a batch is not a transaction, and
like a single call, a batch whose connection broke is sent once more (``storage.redis.connect``).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script

Arg = str | bytes | int | float


class _Call:
    __slots__ = ("args", "done", "error", "keys", "leads", "result", "script", "woken")

    def __init__(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> None:
        self.script, self.keys, self.args = script, keys, args
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False
        self.leads = False  # this call's thread sends the next batch
        self.woken = threading.Event()


class ScriptBatcher:
    """Runs ``call(script, keys, args)`` like ``script(keys=keys, args=args)``, batching concurrent calls.

    The thread whose call finds no batch on the wire sends one with every call waiting, then hands
    the turn to the first call that arrived meanwhile; the others wait for their answers.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._waiting: list[_Call] = []
        self._sending = False

    def call(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        call = _Call(script, keys, args)
        with self._lock:
            self._waiting.append(call)
            call.leads = not self._sending
            self._sending = True
        if not call.leads:
            try:
                call.woken.wait()
            except BaseException:
                self._abandon(call)
                raise
        if not call.done:
            self._send()
        if call.error is not None:
            raise call.error
        return call.result

    def _abandon(self, call: _Call) -> None:
        """A waiting thread was interrupted: take its call back, passing on the turn if it had it."""
        with self._lock:
            if call not in self._waiting:
                return  # already in a batch: answered, unheard
            self._waiting.remove(call)
            if call.woken.is_set():  # the turn had been handed to it: hand it on
                if self._waiting:
                    self._waiting[0].woken.set()
                else:
                    self._sending = False

    def _send(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._run(batch)
        except Exception as exc:  # the batch's connection broke: every call in it fails alike
            for call in batch:
                call.error = copy.copy(exc)  # one each: threads raising one object would mix tracebacks
        except BaseException:  # this thread is interrupted: the others must not wait for it
            for call in batch:
                call.error = redis.ConnectionError("the batch carrying this call was interrupted")
            raise
        finally:
            for call in batch:
                call.done = True
                call.woken.set()
            with self._lock:
                if self._waiting:
                    self._waiting[0].woken.set()  # not done: it wakes to send the next batch
                else:
                    self._sending = False

    def _run(self, batch: list[_Call]) -> None:
        if len(batch) == 1:
            call = batch[0]
            call.result = call.script(keys=call.keys, args=call.args)
            return
        pipe = self._client.pipeline(transaction=False)
        for call in batch:
            pipe.execute_command("EVALSHA", call.script.sha, len(call.keys), *call.keys, *call.args)
        lost: redis.RedisError | None = None
        for call, answer in zip(batch, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(answer, redis.exceptions.NoScriptError):  # Redis restarted: scripts load again
                if lost is not None:  # no use trying each call against a Redis that is gone
                    call.error = copy.copy(lost)
                    continue
                try:
                    call.result = call.script(keys=call.keys, args=call.args)
                except (redis.ConnectionError, redis.TimeoutError) as exc:
                    call.error = lost = exc
                except redis.RedisError as exc:
                    call.error = exc
            elif isinstance(answer, Exception):
                call.error = answer
            else:
                call.result = answer
