"""Redis connections, the translation of connection failures into ``StorageUnavailable``, and the one
log of a Redis outage per process.

Every Redis client of the platform (web, workers, broker, pub/sub listeners, worker registry, CLI)
comes from ``connect``, and the rate limiter's storage from ``limits_storage``: a Redis at
``REDIS_URL``, or, with ``REDIS_SENTINELS``, whichever Redis the sentinels name master of
``REDIS_SENTINEL_MASTER``, found again on each new connection, so that a failover needs no restart.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from app.domain.errors import StorageUnavailable
from app.infra.config import Config

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

#: Errors meaning "Redis is not reachable right now" (BusyLoadingError, a restart, is one of them).
UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError)
#: Longest silence of the outage log while Redis stays unreachable.
REMINDER_SECONDS = 30.0


def redacted(url: str) -> str:
    """A Redis URL without its password, fit for a log line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    netloc = f"{parts.username}:***@{netloc}" if parts.username else f":***@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class OutageLog:
    """Says once that Redis cannot be reached (where, and what to check), then at most every
    ``REMINDER_SECONDS`` that it still cannot, and once that it answers again.

    Every storage call reports to it (``translate_errors``), so a process whose many threads all
    fail at once logs one line, not one per attempt.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.url = "(REDIS_URL)"
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._reminder_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, error: BaseException, url: str | None = None) -> None:
        now = self._clock()
        with self._lock:
            if self._down_since is None:
                self._down_since, self._reminder_at = now, now + REMINDER_SECONDS
                log.warning(
                    "cannot reach Redis at %s (%s): check REDIS_URL (or REDIS_SENTINELS) and that Redis runs; retrying",
                    url or self.url,
                    _reason(error),
                )
            elif now >= self._reminder_at:
                self._reminder_at = now + REMINDER_SECONDS
                log.warning("still cannot reach Redis at %s (for %.0f s)", self.url, now - self._down_since)

    def succeeded(self) -> None:
        if self._down_since is None:  # the common case costs one attribute read
            return
        with self._lock:
            if self._down_since is None:
                return
            log.warning("Redis at %s answers again (after %.1f s)", self.url, self._clock() - self._down_since)
            self._down_since = None


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "..."


#: This process's outage log.
OUTAGE = OutageLog()


def connect(config: Config) -> redis.Redis:
    """A client with bounded waits: a down Redis costs a request seconds, never a hang.

    A connection error is retried once, at once, so that a pooled connection that died with a Redis
    restart (or a failover) is replaced transparently; a timeout is not retried: a Redis that does
    not answer costs one timeout per call. With sentinels, each new connection asks them for the
    master; while they know none (a failover in progress) that is a connection error too, so
    requests get 503 until a new master is named.
    """
    OUTAGE.url = where(config)
    timeouts = {"socket_connect_timeout": config.redis_timeout_seconds, "socket_timeout": config.redis_timeout_seconds}
    retry = Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,))
    options = {**timeouts, "socket_keepalive": True, "retry": retry}
    if not config.redis_sentinels:
        return redis.Redis.from_url(config.redis_url, **options)
    sentinels = Sentinel([_address(entry) for entry in config.redis_sentinels], sentinel_kwargs=timeouts)
    return sentinels.master_for(config.redis_sentinel_master, **options, **_credentials(config.redis_url))


def limits_storage(config: Config) -> tuple[str, dict[str, object]]:
    """The rate limiter's storage URI and options (Flask-Limiter / limits), on the same Redis as ``connect``."""
    timeouts = {"socket_connect_timeout": config.redis_timeout_seconds, "socket_timeout": config.redis_timeout_seconds}
    if not config.redis_sentinels:
        return config.redis_url, timeouts
    uri = f"redis+sentinel://{','.join(config.redis_sentinels)}/{config.redis_sentinel_master}"
    # Counts are read from the master too (limits would read replicas), and the sentinels take no password.
    options = {**timeouts, **_credentials(config.redis_url), "use_replicas": False}
    return uri, {**options, "sentinel_kwargs": {**timeouts, "password": None}}


def where(config: Config) -> str:
    """The configured Redis, for log lines: its URL without password, or the sentinels' master."""
    if config.redis_sentinels:
        return f"master {config.redis_sentinel_master!r} of sentinels {','.join(config.redis_sentinels)}"
    return redacted(config.redis_url)


def _address(entry: str) -> tuple[str, int]:
    host, _, port = entry.rpartition(":")
    return host.strip("[]"), int(port)


def _credentials(url: str) -> dict[str, object]:
    """Username, password, database number and TLS (``rediss://``) of ``url``; nothing when it is empty."""
    if not url:
        return {}
    kwargs = redis.connection.parse_url(url)
    found = {name: kwargs[name] for name in ("username", "password", "db") if kwargs.get(name) is not None}
    return {**found, "ssl": True} if url.startswith("rediss://") else found


def url_of(client: redis.Redis) -> str:
    """Where ``client`` connects, as a URL without password (sentinels: the master's name and theirs)."""
    pool = client.connection_pool
    if isinstance(pool, SentinelConnectionPool):
        return f"master {pool.service_name!r} of the sentinels"
    kwargs = pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}"
    return f"redis://{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"


def translate_errors(func: Callable[P, T]) -> Callable[P, T]:
    """Decorator for storage methods (and functions whose first argument is a client): redis connection
    errors become ``StorageUnavailable``, reported to the process's ``OUTAGE`` log."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            result = func(*args, **kwargs)
        except UNAVAILABLE as exc:
            client = args[0] if args and isinstance(args[0], redis.Redis) else getattr(args[0], "_client", None)
            OUTAGE.failed(exc, url_of(client) if isinstance(client, redis.Redis) else None)
            raise StorageUnavailable() from exc
        OUTAGE.succeeded()
        return result

    return wrapper


@translate_errors
def ping(client: redis.Redis) -> None:
    client.ping()
