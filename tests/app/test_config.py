"""Configuration from the environment: defaults, and values refused at start-up."""

from __future__ import annotations

import pytest

from app.config import Config, ConfigError

REDIS = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


def test_worker_prefetch_is_zero_for_as_many_as_the_threads_or_at_least_the_threads() -> None:
    assert Config.from_env(REDIS).worker_prefetch == 0
    assert Config.from_env({**REDIS, "WORKER_THREADS": "4", "WORKER_PREFETCH": "4"}).worker_prefetch == 4
    with pytest.raises(ConfigError, match="WORKER_PREFETCH"):
        Config.from_env({**REDIS, "WORKER_THREADS": "8", "WORKER_PREFETCH": "3"})


def test_there_is_no_default_redis() -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is not set"):
        Config.from_env({})
