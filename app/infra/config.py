"""Configuration from environment variables, with every default in one place.

The web app, the workers and the CLI all read the same ``Config``; README's configuration table
lists these variables.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import typing
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import marshmallow
    from environs import Env


class ConfigError(ValueError):
    """An environment variable has a value the platform cannot use."""


def _cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Config:
    """Settings of one process. Field names are the environment variables, lowercased."""

    #: Required unless ``redis_sentinels`` is set: there is no default Redis (``dev`` starts one and
    #: sets it; the CLI's Redis commands also find a running ``dev`` stack's). With sentinels, only
    #: its credentials and database number are used: the sentinels say where the master is.
    redis_url: str = ""
    #: Sentinels (``host:port``, comma-separated) that watch a Redis master and its replicas and fail
    #: over; every Redis client of the platform then asks them where the master is.
    redis_sentinels: tuple[str, ...] = ()
    #: The master's name, as the sentinels monitor it (``sentinel monitor <name> ...``).
    redis_sentinel_master: str = ""
    #: Replicas that must acknowledge a new job (Redis ``WAIT``) before ``POST /jobs`` answers; 0:
    #: answered once the master has it (a failover may then lose a job it had accepted).
    redis_min_replicas: int = 0
    #: How long a submission waits for those replicas before it is answered 503 instead.
    redis_replica_wait_seconds: float = 0.5
    #: Prefix of every Redis key the platform writes, so several deployments can share one Redis.
    redis_namespace: str = "fs"
    #: Seconds a Redis command may take before the request fails with 503.
    redis_timeout_seconds: float = 1.0
    #: How long a job record (and so its result) is kept after creation.
    job_ttl_seconds: int = 7 * 24 * 3600
    #: Runs of one job cut short by a crash (its worker or algorithm process died) before it is
    #: failed: a job that keeps killing its process does not loop forever. Failures of the algorithm
    #: itself are governed by the job's retry policy instead.
    job_max_attempts: int = 3
    #: Seconds a job may run when neither its submission nor its algorithm says otherwise.
    job_timeout_default_seconds: float = 600.0
    #: Largest ``timeout`` a submission may ask for.
    job_timeout_max_seconds: float = 3600.0
    #: Furthest ahead a job may be scheduled (``run_at``, ``delay_seconds``).
    schedule_horizon_seconds: float = 30 * 24 * 3600.0
    #: API keys (comma-separated) for simple deployments; keys can also be created with the CLI.
    api_keys: tuple[str, ...] = ()
    #: API keys (comma-separated) with the admin role: every job, the workers, the queues, the dashboard.
    admin_api_keys: tuple[str, ...] = ()
    #: Requests allowed per key (per client address when the API is open), e.g. ``100/minute``.
    rate_limit: str = ""
    #: Requests of one web process that may wait (``?wait=``, ``Prefer: wait``) at once; more answer at once.
    wait_max_waiters: int = 128
    #: Event streams (``GET /jobs/{id}/events``) one web process holds at once; more get 503. Each
    #: holds a thread: the web's threads are ``WEB_THREADS`` plus these.
    event_streams_max: int = 200
    #: Largest accepted request body; larger bodies get 413.
    max_body_bytes: int = 1024 * 1024
    webhook_timeout_seconds: float = 10.0
    #: Seconds between a failed delivery attempt and the next one; one retry per entry.
    webhook_retry_delays: tuple[float, ...] = (1.0, 5.0, 15.0)
    #: Signing secret of webhooks (``whsec_`` + base64); generated and kept in Redis when unset.
    webhook_secret: str = ""
    #: The secret being replaced: while set, deliveries carry both signatures.
    webhook_secret_previous: str = ""
    #: Lets webhooks reach loopback and private addresses; for development only.
    webhook_allow_private_networks: bool = False
    #: Processes and threads that run jobs (jobs queue).
    worker_processes: int = field(default_factory=_cpu_count)
    worker_threads: int = 8
    #: Algorithm processes of each job worker process: how many of its runs may go on at once
    #: outside its threads (runs declared quick stay in the threads); more wait for a free one.
    #: Started when runs need them, from a forkserver; at most ``worker_threads`` are used.
    worker_algorithm_processes: int = field(default_factory=_cpu_count)
    #: Jobs a worker process holds at once, running or about to (0: twice its threads, Dramatiq's
    #: default, so that its threads never wait for a fetch). Jobs that need an algorithm process are
    #: taken only one per free process whatever this is (``workers.admission``).
    worker_prefetch: int = 0
    #: Processes and threads that deliver webhooks, apart from those that run algorithms.
    webhook_worker_processes: int = 1
    webhook_worker_threads: int = 64
    #: Longest a worker's consumer waits without looking at its queue's state; wake-ups and due
    #: times make it look sooner. Also how soon a stopping worker's consumer notices.
    worker_poll_ms: int = 500
    #: How long a message (a job run, a webhook attempt) stays leased to its worker without being
    #: renewed: a worker that dies, or is cut off, has its messages delivered again after this long.
    #: Also how long a silent worker stays in the worker registry.
    worker_lease_seconds: float = 15.0
    #: Seconds a stopping worker lets running jobs finish; those still running then go back to the
    #: queue (their attempt not counted). Keep it below your process manager's SIGKILL delay
    #: (Heroku: 30 s; systemd: TimeoutStopSec, 90 s).
    worker_shutdown_timeout_seconds: float = 25.0
    #: Seconds between two writes of locally counted job metrics to Redis.
    metrics_flush_seconds: float = 1.0
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Read every field from the process environment (``os.environ``); ``overrides`` win.

        A variable that is unset or blank keeps the field's default. environs parses each value,
        stripped, by its field's type (``_PARSERS``); the values that do not parse are reported
        together, each with its variable, in one ``ConfigError``; then ``validate()`` checks the rules.
        """
        from environs import EnvValidationError  # here: marshmallow costs every CLI command 0.1 s

        env = _env()
        values: dict[str, Any] = {}
        problems = []
        for f in fields(cls):
            name = f.name.upper()
            raw = os.environ.get(name, "").strip()
            if not raw:
                continue
            try:
                values[f.name] = getattr(env, _PARSERS[_field_types()[f.name]])(name)
            except EnvValidationError as error:
                problems.append(f"{name}={raw!r}: {_flatten(error.error_messages)}")
        if problems:
            raise ConfigError("; ".join(problems))
        values.update(overrides)
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        positive = {
            "job_ttl_seconds": self.job_ttl_seconds,
            "job_max_attempts": self.job_max_attempts,
            "job_timeout_default_seconds": self.job_timeout_default_seconds,
            "job_timeout_max_seconds": self.job_timeout_max_seconds,
            "schedule_horizon_seconds": self.schedule_horizon_seconds,
            "wait_max_waiters": self.wait_max_waiters,
            "event_streams_max": self.event_streams_max,
            "max_body_bytes": self.max_body_bytes,
            "redis_timeout_seconds": self.redis_timeout_seconds,
            "webhook_timeout_seconds": self.webhook_timeout_seconds,
            "worker_processes": self.worker_processes,
            "worker_threads": self.worker_threads,
            "worker_algorithm_processes": self.worker_algorithm_processes,
            "webhook_worker_threads": self.webhook_worker_threads,
            "worker_poll_ms": self.worker_poll_ms,
            "worker_lease_seconds": self.worker_lease_seconds,
            "metrics_flush_seconds": self.metrics_flush_seconds,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{name.upper()} must be positive, got {value!r}")
        if self.worker_prefetch and self.worker_prefetch < self.worker_threads:
            raise ConfigError("WORKER_PREFETCH must be 0 (twice WORKER_THREADS) or at least WORKER_THREADS")
        if self.webhook_worker_processes < 0:
            raise ConfigError("WEBHOOK_WORKER_PROCESSES must be 0 or more")
        if any(d < 0 for d in self.webhook_retry_delays):
            raise ConfigError("WEBHOOK_RETRY_DELAYS must be non-negative seconds")
        for name, secret in (
            ("WEBHOOK_SECRET", self.webhook_secret),
            ("WEBHOOK_SECRET_PREVIOUS", self.webhook_secret_previous),
        ):
            if secret:
                _check_secret(name, secret)
        if self.webhook_secret_previous and not self.webhook_secret:
            raise ConfigError("WEBHOOK_SECRET_PREVIOUS is set without WEBHOOK_SECRET")
        if self.job_timeout_default_seconds > self.job_timeout_max_seconds:
            raise ConfigError("JOB_TIMEOUT_DEFAULT_SECONDS is above JOB_TIMEOUT_MAX_SECONDS")
        if self.rate_limit:
            from limits import parse_many  # here: importing it costs every process 0.1 s of CPU

            try:
                parse_many(self.rate_limit)
            except ValueError:
                raise ConfigError(f"RATE_LIMIT={self.rate_limit!r} is not a limit such as 100/minute") from None
        self._validate_redis()

    def _validate_redis(self) -> None:
        if not self.redis_url and not self.redis_sentinels:
            raise ConfigError("REDIS_URL is not set: point it at your Redis, e.g. redis://127.0.0.1:6379/0")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
        if self.redis_sentinels:
            for address in self.redis_sentinels:
                host, _, port = address.rpartition(":")
                if not host or not port.isdigit():
                    raise ConfigError(f"REDIS_SENTINELS: {address!r} is not host:port")
            if not self.redis_sentinel_master:
                raise ConfigError("REDIS_SENTINELS is set without REDIS_SENTINEL_MASTER (the name sentinels monitor)")
            if self.redis_url.startswith("unix://"):
                raise ConfigError("with REDIS_SENTINELS, REDIS_URL gives credentials and db only: not a unix socket")
        elif self.redis_sentinel_master:
            raise ConfigError("REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS")
        if self.redis_min_replicas < 0:
            raise ConfigError("REDIS_MIN_REPLICAS must be 0 or more")
        if self.redis_min_replicas and not 0 < self.redis_replica_wait_seconds < self.redis_timeout_seconds:
            raise ConfigError("REDIS_REPLICA_WAIT_SECONDS must be positive and below REDIS_TIMEOUT_SECONDS")


#: Prefix of a webhook signing secret (Standard Webhooks); the rest is base64 of the key.
SECRET_PREFIX = "whsec_"
#: Fewest key bytes accepted in a configured secret.
MIN_SECRET_BYTES = 16


def _check_secret(name: str, secret: str) -> None:
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        key = b""
    if not secret.startswith(SECRET_PREFIX) or len(key) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be {SECRET_PREFIX!r} followed by base64 of at least {MIN_SECRET_BYTES} bytes")


#: Each field's type → the environs parser that reads it (registered by ``_env``). A field of a type
#: not listed here fails at import (``_field_types``), rather than being passed on unparsed.
_PARSERS: dict[object, str] = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "flag",
    tuple[str, ...]: "names",
    tuple[float, ...]: "numbers",
}


@functools.cache
def _field_types() -> dict[str, object]:
    types = typing.get_type_hints(Config)
    for name, kind in types.items():
        if kind not in _PARSERS:
            raise TypeError(f"Config.{name}: no environs parser for {kind!r}; add one to _PARSERS")
    return types


def _env() -> Env:
    """environs' ``Env`` (it reads ``os.environ``) with the parsers of ``_PARSERS``, each given the
    variable's value stripped; a new one for each ``from_env``, as an ``Env`` keeps what it parsed."""
    from environs import Env
    from marshmallow import fields as ma

    env = Env()
    env.add_parser("text", functools.partial(_parse, ma.String()))
    env.add_parser("integer", functools.partial(_parse, ma.Integer()))
    env.add_parser("number", functools.partial(_parse, ma.Float()))  # no NaN or infinity
    env.add_parser("flag", functools.partial(_parse, ma.Boolean()))
    env.add_parser("names", functools.partial(_parse_list, ma.List(ma.String())))
    env.add_parser("numbers", functools.partial(_parse_list, ma.List(ma.Float())))
    return env


def _parse(field: marshmallow.fields.Field, value: str) -> Any:
    """``value`` stripped, deserialized by ``field`` (whose ``ValidationError`` environs reports)."""
    return field.deserialize(value.strip())


def _parse_list(field: marshmallow.fields.List, value: str) -> tuple[Any, ...]:
    """``a, b,`` → ``("a", "b")``: comma-separated items, each stripped, empty ones skipped."""
    return tuple(field.deserialize([item for part in value.split(",") if (item := part.strip())]))


def _flatten(messages: object) -> str:
    """marshmallow's messages (a list, or a dict by item number for lists) as one line."""
    if isinstance(messages, dict):
        return " ".join(f"item {_ordinal(key)}: {_flatten(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_flatten(message) for message in messages)
    return str(messages)


def _ordinal(key: object) -> object:
    return key + 1 if isinstance(key, int) else key


_field_types()  # a field of a type without a parser fails here, at import
