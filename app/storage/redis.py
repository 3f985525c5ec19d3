"""Redis connections, and the translation of connection failures into ``StorageUnavailable``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import Config
from app.errors import StorageUnavailable

P = ParamSpec("P")
T = TypeVar("T")

#: Errors meaning "Redis is not reachable right now" (BusyLoadingError, a restart, is one of them).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)


def connect(config: Config) -> redis.Redis:
    """A client with bounded waits: a down Redis costs a request seconds, never a hang.

    A connection error is retried once, at once, so that a pooled connection that died with a Redis
    restart is replaced transparently; a timeout is not retried: a Redis that does not answer costs
    one timeout per call.
    """
    return redis.Redis.from_url(
        config.redis_url,
        socket_connect_timeout=config.redis_timeout_seconds,
        socket_timeout=config.redis_timeout_seconds,
        socket_keepalive=True,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )


def translate_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Decorator for storage methods: redis connection errors become ``StorageUnavailable``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except UNAVAILABLE as exc:
            raise StorageUnavailable() from exc

    return wrapper


@translate_errors
def ping(client: redis.Redis) -> None:
    client.ping()
