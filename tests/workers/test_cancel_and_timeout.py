"""Stopping jobs: cancellation (pending and running) and time limits, native code included."""

from __future__ import annotations

import time

import dramatiq
import pytest
from flask.testing import FlaskClient
from support import WebhookReceiver, finished_job, wait_until

from app.infra.config import Config
from workers.process import start_worker


def _submit(client: FlaskClient, algorithm: str, params: dict, **extra: object) -> str:
    response = client.post("/jobs", json={"algorithm": algorithm, "params": params, **extra})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["job_id"]


def _status(client: FlaskClient, job_id: str) -> str:
    return client.get(f"/jobs/{job_id}").get_json()["status"]


def _finished(client: FlaskClient, job_id: str, timeout: float = 15) -> dict:
    return finished_job(lambda path: client.get(path).get_json(), job_id, timeout)


@pytest.mark.usefixtures("webhook_worker")
def test_a_pending_job_is_cancelled_at_once_never_runs_and_its_webhook_says_so(
    client: FlaskClient, config: Config, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _submit(client, "PrimeChecker", {"number": 7}, webhook=webhook_receiver.url())  # no worker yet
    response = client.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.get_json()["status"] == "cancelled"
    [delivery] = wait_until(lambda: webhook_receiver.received, timeout=10, message="the webhook")
    assert (delivery.json()["status"], delivery.json()["type"]) == ("cancelled", "job.cancelled")

    worker = start_worker(config, threads=1)  # its message is still queued: the worker takes it...
    try:
        worker.broker.join("jobs", timeout=10_000)
        worker.join()
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
    job = client.get(f"/jobs/{job_id}").get_json()
    assert (job["status"], job["attempts"], job["started_at"]) == ("cancelled", 0, None)  # ...and skips it


def test_a_running_job_is_stopped_and_ends_cancelled(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = _submit(client, "Sleeping", {"seconds": 60})
    wait_until(lambda: _status(client, job_id) == "running", timeout=10, message="the job to start")
    asked = time.monotonic()
    response = client.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.get_json()["cancel_requested"] is True
    job = _finished(client, job_id)
    assert job["status"] == "cancelled"
    assert time.monotonic() - asked < 2
    assert job["result"] is None


def test_a_finished_job_cannot_be_cancelled(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = _submit(client, "PrimeChecker", {"number": 7})
    _finished(client, job_id)
    response = client.post(f"/jobs/{job_id}/cancel")
    assert response.status_code == 409
    assert (response.get_json()["error"], response.get_json()["details"]) == (
        "JOB_ALREADY_FINISHED",
        {"status": "completed"},
    )


def test_a_job_over_its_time_limit_fails_with_timeout(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = _submit(client, "Sleeping", {"seconds": 60}, timeout=0.5)
    job = _finished(client, job_id)
    assert job["status"] == "failed"
    assert job["error"].startswith("TIMEOUT")
    assert job["timeout"] == 0.5


def test_a_job_stuck_in_native_code_is_stopped_and_its_slot_freed(client: FlaskClient, config: Config) -> None:
    worker = start_worker(config, threads=1)  # one slot: the next job needs it back
    try:
        stuck = _submit(client, "Stuck", {"terms": 10**13}, timeout=1)
        quick = _submit(client, "PrimeChecker", {"number": 91})
        job = _finished(client, stuck)
        assert (job["status"], job["error"][:7]) == ("failed", "TIMEOUT")
        assert _finished(client, quick, timeout=5)["result"]["factors"] == [7, 13]
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()


def test_timeouts_default_per_algorithm_and_are_bounded(client: FlaskClient, make_client) -> None:
    job_id = _submit(client, "PrimeChecker", {"number": 7})
    assert client.get(f"/jobs/{job_id}").get_json()["timeout"] == 75.0  # PrimeChecker's own default
    job_id = _submit(client, "Sleeping", {"seconds": 0})
    assert client.get(f"/jobs/{job_id}").get_json()["timeout"] == 600.0  # JOB_TIMEOUT_DEFAULT_SECONDS
    strict = make_client(job_timeout_max_seconds=10)
    response = strict.post("/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 0}, "timeout": 11})
    assert (response.status_code, response.get_json()["details"]["field"]) == (400, "timeout")
    for bad in (0, -1, "5", True):
        response = client.post("/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 0}, "timeout": bad})
        assert response.status_code == 400, bad
