"""Configuration from the environment: defaults, and values refused at start-up."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import environment

from app.infra.config import Config, ConfigError

REDIS = {"REDIS_URL": "redis://127.0.0.1:6379/0"}


@pytest.fixture
def config_from(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], Config]:
    """``Config.from_env()`` with the process environment holding these settings (and no others)."""

    def read(settings: dict[str, str]) -> Config:
        environment(monkeypatch, settings)
        return Config.from_env()

    return read


def test_worker_prefetch_is_zero_for_the_default_or_at_least_the_threads(
    config_from: Callable[[dict[str, str]], Config],
) -> None:
    assert config_from(REDIS).worker_prefetch == 0
    assert config_from({**REDIS, "WORKER_THREADS": "4", "WORKER_PREFETCH": "4"}).worker_prefetch == 4
    with pytest.raises(ConfigError, match="WORKER_PREFETCH"):
        config_from({**REDIS, "WORKER_THREADS": "8", "WORKER_PREFETCH": "3"})


def test_there_is_no_default_redis(config_from: Callable[[dict[str, str]], Config]) -> None:
    with pytest.raises(ConfigError, match="REDIS_URL is not set"):
        config_from({})


def test_sentinels_replace_the_redis_url_which_then_gives_credentials_and_db_only(
    config_from: Callable[[dict[str, str]], Config],
) -> None:
    sentinels = {"REDIS_SENTINELS": "10.0.0.1:26379, 10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "main"}
    config = config_from(sentinels)
    assert (config.redis_sentinels, config.redis_sentinel_master) == (("10.0.0.1:26379", "10.0.0.2:26379"), "main")
    assert config_from({**sentinels, "REDIS_URL": "redis://:secret@ignored:1/3"}).redis_url.endswith("/3")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"REDIS_SENTINELS": "10.0.0.1:26379"}, "without REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "10.0.0.1", "REDIS_SENTINEL_MASTER": "main"}, "'10.0.0.1' is not host:port"),
        ({**REDIS, "REDIS_SENTINEL_MASTER": "main"}, "without REDIS_SENTINELS"),
        ({**REDIS, "REDIS_MIN_REPLICAS": "-1"}, "REDIS_MIN_REPLICAS must be 0 or more"),
        ({**REDIS, "REDIS_MIN_REPLICAS": "1", "REDIS_REPLICA_WAIT_SECONDS": "1"}, "below REDIS_TIMEOUT_SECONDS"),
    ],
)
def test_redis_topology_settings_that_cannot_work_are_refused(
    config_from: Callable[[dict[str, str]], Config], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from(environ)


def test_unset_or_blank_variables_keep_their_defaults_and_values_and_lists_are_trimmed(
    config_from: Callable[[dict[str, str]], Config],
) -> None:
    config = config_from(
        {
            "REDIS_URL": f" {REDIS['REDIS_URL']} ",
            "WORKER_THREADS": " ",
            "LOG_LEVEL": "",
            "API_KEYS": " key-a, key-b,,",
            "WEBHOOK_RETRY_DELAYS": "0.5, 2,",
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": " true ",
        }
    )
    assert config.redis_url == REDIS["REDIS_URL"]
    assert (config.worker_threads, config.log_level) == (Config.worker_threads, Config.log_level)
    assert config.api_keys == ("key-a", "key-b")
    assert config.webhook_retry_delays == (0.5, 2.0)
    assert config.webhook_allow_private_networks


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("WORKER_THREADS", "eight", "WORKER_THREADS='eight': Not a valid integer."),
        ("WORKER_THREADS", "3.5", "WORKER_THREADS='3.5': Not a valid integer."),
        ("REDIS_TIMEOUT_SECONDS", "1s", "REDIS_TIMEOUT_SECONDS='1s': Not a valid number."),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "maybe", "WEBHOOK_ALLOW_PRIVATE_NETWORKS='maybe': Not a valid boolean."),
        ("WEBHOOK_RETRY_DELAYS", "1, five", "WEBHOOK_RETRY_DELAYS='1, five': item 2: Not a valid number."),
    ],
)
def test_a_value_that_does_not_parse_is_refused_naming_its_variable(
    config_from: Callable[[dict[str, str]], Config], variable: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        config_from({**REDIS, variable: value})
    assert str(refused.value) == message


def test_every_value_that_does_not_parse_is_reported_at_once(config_from: Callable[[dict[str, str]], Config]) -> None:
    with pytest.raises(ConfigError) as refused:
        config_from({**REDIS, "WORKER_THREADS": "x", "JOB_TTL_SECONDS": "y"})
    assert str(refused.value) == "JOB_TTL_SECONDS='y': Not a valid integer.; WORKER_THREADS='x': Not a valid integer."


def test_overrides_win_over_the_environment(config_from: Callable[[dict[str, str]], Config]) -> None:
    config_from({**REDIS, "WORKER_THREADS": "5"})
    assert Config.from_env().worker_threads == 5
    assert Config.from_env(worker_threads=3).worker_threads == 3
