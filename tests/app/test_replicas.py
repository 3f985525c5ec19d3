"""REDIS_MIN_REPLICAS: a submission is answered 202 only once that many replicas have its job."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis
from flask.testing import FlaskClient
from support import wait_until

from app.infra.embedded_redis import EmbeddedRedis

JOB = {"algorithm": "PrimeChecker", "params": {"number": 17}}


@pytest.fixture
def replica(redis_server: EmbeddedRedis, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """A replica of the test server, in sync, for the length of the test."""
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        client.replicaof("127.0.0.1", redis_server.port)
        wait_until(lambda: client.info("replication")["master_link_status"] == "up", message="the replica to sync")
        yield client
        client.replicaof("NO", "ONE")
    wait_until(lambda: redis_client.info("replication")["connected_slaves"] == 0, message="the replica to go")


def test_without_enough_replicas_the_job_is_refused_503_until_a_retry_finds_one(
    make_client: Callable[..., FlaskClient], request: pytest.FixtureRequest
) -> None:
    client = make_client(redis_min_replicas=1, redis_replica_wait_seconds=0.05)
    headers = {"Idempotency-Key": "order-7"}

    refused = client.post("/jobs", json=JOB, headers=headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"] == "SERVICE_UNAVAILABLE"
    assert "same Idempotency-Key" in refused.get_json()["message"]
    again = client.post("/jobs", json=JOB, headers=headers)  # the stored job is not answered either
    assert again.status_code == 503

    copy = request.getfixturevalue("replica")  # a replica catches up: the retry returns the one job
    accepted = client.post("/jobs", json=JOB, headers=headers)
    assert accepted.status_code == 202
    listed = client.get("/jobs").get_json()["jobs"]
    assert [job["job_id"] for job in listed] == [accepted.get_json()["job_id"]]
    assert copy.exists(f"fs:job:{accepted.get_json()['job_id']}")


def test_with_no_replicas_asked_for_nothing_waits(client: FlaskClient, redis_client: redis.Redis) -> None:
    assert redis_client.info("replication")["connected_slaves"] == 0
    assert client.post("/jobs", json=JOB).status_code == 202
