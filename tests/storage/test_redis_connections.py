"""Where the platform's Redis clients connect: REDIS_URL, or the master the sentinels name."""

from __future__ import annotations

from redis.sentinel import SentinelConnectionPool

from app.infra.config import Config
from app.storage.redis import connect, limits_storage, url_of, where

SENTINELS = Config(
    redis_url="redis://:secret@anywhere:6379/2",
    redis_sentinels=("10.0.0.1:26379", "10.0.0.2:26380"),
    redis_sentinel_master="main",
)


def test_with_sentinels_every_client_asks_them_for_the_master_with_the_urls_credentials_and_db() -> None:
    client = connect(SENTINELS)
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "main"
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in pool.sentinel_manager.sentinels] == [("10.0.0.1", 26379), ("10.0.0.2", 26380)]  # fmt: skip
    assert (pool.connection_kwargs["password"], pool.connection_kwargs["db"]) == ("secret", 2)
    assert pool.connection_kwargs["socket_timeout"] == SENTINELS.redis_timeout_seconds
    assert "secret" not in url_of(client) + where(SENTINELS)


def test_the_rate_limiter_uses_the_same_master_read_from_the_master() -> None:
    uri, options = limits_storage(SENTINELS)
    assert uri == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380/main"
    assert (options["use_replicas"], options["password"], options["db"]) == (False, "secret", 2)
    assert options["sentinel_kwargs"]["password"] is None  # the sentinels take none
    plain = Config(redis_url="redis://127.0.0.1:6379/0")
    assert limits_storage(plain)[0] == plain.redis_url


def test_a_rediss_url_makes_the_masters_connections_tls() -> None:
    config = Config(redis_url="rediss://:secret@anywhere:6379/0", redis_sentinels=("10.0.0.1:26379",),
                    redis_sentinel_master="main")  # fmt: skip
    assert connect(config).connection_pool.connection_class.__name__ == "SentinelManagedSSLConnection"
    assert limits_storage(config)[1]["ssl"] is True
