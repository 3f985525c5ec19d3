"""Waiting for a job without polling: GET ?wait=N and POST with Prefer: wait=N."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import dramatiq
import pytest
from flask.testing import FlaskClient
from support import wait_until

pytestmark = pytest.mark.usefixtures("worker")


def _submit(client: FlaskClient, seconds: float) -> str:
    response = client.post("/jobs", json={"algorithm": "Sleeping", "params": {"seconds": seconds}})
    return response.get_json()["job_id"]


def test_get_with_wait_answers_as_soon_as_the_job_completes(client: FlaskClient) -> None:
    job_id = _submit(client, 1.0)
    response = client.get(f"/jobs/{job_id}?wait=10")
    answered = time.time()
    job = response.get_json()
    assert job["status"] == "completed"
    late = answered - datetime.fromisoformat(job["completed_at"]).timestamp()
    assert 0 <= late < 0.1, late


def test_get_with_wait_gives_up_after_the_time_asked(client: FlaskClient) -> None:
    job_id = _submit(client, 30)
    started = time.monotonic()
    job = client.get(f"/v1/jobs/{job_id}?wait=0.5").get_json()
    assert 0.5 <= time.monotonic() - started < 1.5
    assert job["status"] in ("pending", "running")
    client.post(f"/jobs/{job_id}/cancel")  # free the worker


def test_prefer_wait_answers_200_with_the_finished_job(client: FlaskClient) -> None:
    response = client.post(
        "/jobs",
        json={"algorithm": "PrimeChecker", "params": {"number": 91}},
        headers={"Prefer": "respond-async, wait=10"},
    )
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=10"
    job = response.get_json()
    assert (job["status"], job["result"]["factors"]) == ("completed", [7, 13])
    assert response.headers["Location"] == f"/jobs/{job['job_id']}"


def test_prefer_wait_answers_202_when_the_job_takes_longer(client: FlaskClient) -> None:
    response = client.post(
        "/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 30}}, headers={"Prefer": "wait=0.3"}
    )
    assert response.status_code == 202
    assert response.get_json()["status"] in ("pending", "running")
    assert "Preference-Applied" not in response.headers
    client.post(f"/jobs/{response.get_json()['job_id']}/cancel")  # free the worker


@pytest.mark.parametrize("wait", ["61", "-1", "soon"])
def test_waits_beyond_a_minute_or_malformed_are_400(client: FlaskClient, wait: str) -> None:
    job_id = _submit(client, 0)
    response = client.get(f"/jobs/{job_id}?wait={wait}")
    assert (response.status_code, response.get_json()["details"]["field"]) == (400, "wait")


def test_past_the_waiter_limit_requests_are_answered_at_once(make_client, worker: dramatiq.Worker) -> None:
    client = make_client(wait_max_waiters=1)
    job_id = _submit(client, 30)
    first = threading.Thread(target=lambda: client.get(f"/jobs/{job_id}?wait=3"))
    first.start()
    waiter = client.application.extensions["functionalscaffold"].waiter
    wait_until(lambda: waiter.waiting == 1, timeout=5, message="the first waiter")
    started = time.monotonic()
    assert client.get(f"/jobs/{job_id}?wait=3").status_code == 200
    assert time.monotonic() - started < 0.5  # not held: the one waiting slot is taken
    first.join()
    client.post(f"/jobs/{job_id}/cancel")  # free the worker


def test_waiters_share_one_connection(client: FlaskClient, redis_client) -> None:
    ids = [_submit(client, 0.5) for _ in range(20)]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(client.get(f"/jobs/{i}?wait=10").get_json()["status"]))
        for i in ids
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["completed"] * 20
    [(_, subscribers)] = redis_client.pubsub_numsub("fs:job-finished")
    assert subscribers == 1  # this process's one listener, for all twenty
