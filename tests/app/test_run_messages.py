"""A job's run message says whether the job is quick (``Algorithm.is_quick``), however it was
queued: submitted, in a batch, or retried. A worker trusts it to run the job in its thread without
holding an algorithm process or reading the job first (``workers.admission``)."""

from __future__ import annotations

import dramatiq
import pytest
import redis
from flask.testing import FlaskClient

from app.services.messages import JOBS_QUEUE, is_quick_message
from app.wiring import Services

QUICK, SLOW = {"number": 97}, {"number": 2**64 + 13}  # PrimeChecker: quick below 2^64


def _quick(redis_client: redis.Redis, services: Services, job_id: str) -> bool:
    data = redis_client.hget(services.queues.keys(JOBS_QUEUE).messages, job_id)
    assert data is not None, f"no run message queued for job {job_id}"
    return is_quick_message(dramatiq.Message.decode(data))


@pytest.mark.parametrize(("params", "quick"), [(QUICK, True), (SLOW, False)])
def test_a_submitted_job_s_message_says_whether_it_is_quick(
    client: FlaskClient, redis_client: redis.Redis, services: Services, params: dict, quick: bool
) -> None:
    job_id = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": params}).get_json()["job_id"]
    assert _quick(redis_client, services, job_id) is quick


def test_a_batch_s_messages_say_whether_each_job_is_quick(
    client: FlaskClient, redis_client: redis.Redis, services: Services
) -> None:
    jobs = [{"algorithm": "PrimeChecker", "params": params} for params in (QUICK, SLOW)]
    answer = client.post("/batches", json={"jobs": jobs})
    assert answer.status_code == 202, answer.get_json()
    ids = answer.get_json()["job_ids"]
    assert [_quick(redis_client, services, job_id) for job_id in ids] == [True, False]


@pytest.mark.parametrize(("params", "quick"), [(QUICK, True), (SLOW, False)])
def test_a_retried_job_s_message_says_whether_it_is_quick(
    client: FlaskClient, redis_client: redis.Redis, services: Services, params: dict, quick: bool
) -> None:
    body = {"algorithm": "PrimeChecker", "params": params, "delay_seconds": 600}
    job_id = client.post("/jobs", json=body).get_json()["job_id"]
    assert client.post(f"/jobs/{job_id}/cancel").get_json()["status"] == "cancelled"
    assert client.post(f"/jobs/{job_id}/retry").status_code == 202
    assert _quick(redis_client, services, job_id) is quick
