"""/healthz and /readyz, with Redis up, down, and back."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient

from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.routes import EXTENSION_KEY


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_healthz_answers_the_reference_body(client: FlaskClient, prefix: str) -> None:
    body = client.get(f"{prefix}/healthz").get_json()
    assert body["status"] == "healthy"
    assert abs(body["timestamp"] - time.time()) < 60


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_readyz_checks_redis_and_algorithms(client: FlaskClient, prefix: str) -> None:
    response = client.get(f"{prefix}/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert body["checks"] == {"algorithm": True, "redis": True}


@pytest.fixture
def killable_redis() -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis().start()
    yield server
    server.close()


def test_redis_down_gives_503_then_recovers_without_restart(killable_redis: EmbeddedRedis, make_app) -> None:
    client = make_app(Config(redis_url=killable_redis.url, redis_timeout_seconds=1.0)).test_client()
    job = {"algorithm": "PrimeChecker", "params": {"number": 7}}
    job_id = client.post("/jobs", json=job).get_json()["job_id"]

    killable_redis.stop()
    started = time.monotonic()
    for response in (client.post("/jobs", json=job), client.get(f"/jobs/{job_id}"), client.get("/readyz")):
        assert response.status_code == 503
        body = response.get_json()
        assert (body["error"], body["retryable"]) == ("SERVICE_UNAVAILABLE", True)
        assert response.headers["Retry-After"] == "1"
    assert time.monotonic() - started < 5
    assert client.get("/readyz").get_json()["details"]["checks"] == {"algorithm": True, "redis": False}
    assert client.get("/healthz").status_code == 200
    assert client.post("/invoke", json={"number": 17}).status_code == 200  # needs no Redis

    killable_redis.start()  # same port, empty: the earlier job is gone with the data
    assert client.get("/readyz").status_code == 200
    assert client.post("/jobs", json=job).status_code == 202
    assert client.get(f"/jobs/{job_id}").status_code == 404
    client.application.extensions[EXTENSION_KEY].metrics.flush()  # counted while Redis was away, kept


def test_a_redis_that_stops_answering_gives_503_within_5_seconds(killable_redis: EmbeddedRedis, make_app) -> None:
    client = make_app(Config(redis_url=killable_redis.url)).test_client()  # default timeouts
    job = {"algorithm": "PrimeChecker", "params": {"number": 7}}
    job_id = client.post("/jobs", json=job).get_json()["job_id"]
    killable_redis.process.send_signal(signal.SIGSTOP)  # alive, connected, silent: a network partition
    try:
        for call in (
            lambda: client.post("/jobs", json=job),
            lambda: client.get(f"/jobs/{job_id}"),
            lambda: client.get("/readyz"),
        ):
            started = time.monotonic()
            response = call()
            assert response.status_code == 503
            assert time.monotonic() - started < 5
    finally:
        killable_redis.process.send_signal(signal.SIGCONT)
    assert client.get(f"/jobs/{job_id}").status_code == 200
    client.application.extensions[EXTENSION_KEY].metrics.flush()
