"""Idempotency-Key on POST /jobs: a retried submission returns the first job, even under a race."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

JOB = {"algorithm": "PrimeChecker", "params": {"number": 17}}


def _post(client: FlaskClient, key: str, body: dict = JOB, **headers: str):
    return client.post("/jobs", json=body, headers={"Idempotency-Key": key, **headers})


def test_a_retry_with_the_same_key_and_body_returns_the_first_job(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    first, retry = _post(client, "order-42"), _post(client, "order-42")
    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.get_json() == first.get_json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert redis_client.zcard("fs:queue:jobs:ready") == 1  # queued once


def test_the_same_key_with_another_body_is_409(client: FlaskClient) -> None:
    job_id = _post(client, "order-43").get_json()["job_id"]
    response = _post(client, "order-43", {"algorithm": "PrimeChecker", "params": {"number": 19}})
    assert response.status_code == 409
    body = response.get_json()
    assert (body["error"], body["details"]["job_id"]) == ("IDEMPOTENCY_KEY_REUSED", job_id)


def test_without_a_key_every_submission_is_a_new_job(client: FlaskClient) -> None:
    ids = {client.post("/jobs", json=JOB).get_json()["job_id"] for _ in range(3)}
    assert len(ids) == 3


def test_keys_belong_to_their_caller(make_client) -> None:
    client = make_client(api_keys=("alpha", "beta"))
    alpha = _post(client, "same", Authorization="Bearer alpha").get_json()["job_id"]
    beta = _post(client, "same", Authorization="Bearer beta").get_json()["job_id"]
    assert alpha != beta


def test_twenty_concurrent_duplicates_create_one_job(app: Flask, redis_client: redis.Redis) -> None:
    def submit(_: int) -> str:
        response = _post(app.test_client(), "burst-1")
        assert response.status_code == 202
        return response.get_json()["job_id"]

    with ThreadPoolExecutor(20) as pool:
        ids = set(pool.map(submit, range(20)))
    assert len(ids) == 1
    assert redis_client.zcard("fs:queue:jobs:ready") == 1
    assert len(redis_client.keys("fs:job:*:input")) == 1  # one job: its state, input (and no output yet)


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there"])
def test_malformed_keys_are_refused(client: FlaskClient, key: str) -> None:
    response = _post(client, key)
    assert response.status_code == 400
    assert response.get_json()["details"]["field"] == "Idempotency-Key"


def test_the_key_lives_as_long_as_the_job(client: FlaskClient, redis_client: redis.Redis) -> None:
    job_id = _post(client, "order-44").get_json()["job_id"]
    [key] = redis_client.keys("fs:idempotency:*")
    assert abs(redis_client.ttl(key) - redis_client.ttl(f"fs:job:{job_id}")) <= 1
