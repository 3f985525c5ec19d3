"""POST /jobs/{id}/retry: a failed or cancelled job runs again as its next attempt."""

from __future__ import annotations

import dramatiq
from flask.testing import FlaskClient
from support import WebhookReceiver, finished_job, wait_until


def _get(client: FlaskClient):
    return lambda path: client.get(path).get_json()


def test_a_failed_job_runs_again_as_its_next_attempt_with_a_new_webhook_event(
    client: FlaskClient,
    worker: dramatiq.Worker,
    webhook_worker: dramatiq.Worker,
    webhook_receiver: WebhookReceiver,
) -> None:
    body = {"algorithm": "Failing", "params": {"n": 1}, "webhook": webhook_receiver.url()}
    job_id = client.post("/jobs", json=body).get_json()["job_id"]
    first = finished_job(_get(client), job_id)
    assert first["status"] == "failed" and first["attempts"] == 1
    wait_until(lambda: len(webhook_receiver.received) == 1, message="the first outcome's webhook")

    retried = client.post(f"/jobs/{job_id}/retry")
    assert retried.status_code == 202, retried.get_json()
    assert retried.get_json()["attempt_history"][0]["outcome"] == "failed"  # whatever the worker did since
    second = finished_job(_get(client), job_id)
    assert second["status"] == "failed" and second["attempts"] == 2
    assert [(a["attempt"], a["outcome"]) for a in second["attempt_history"]] == [(1, "failed"), (2, "failed")]
    assert second["attempt_history"][0]["error"] == first["error"]
    assert second["expires_at"] > first["expires_at"]
    wait_until(lambda: len(webhook_receiver.received) == 2, message="the second outcome's webhook")
    ids = [r.headers["webhook-id"] for r in webhook_receiver.received]
    assert ids[0] != ids[1]  # a new event: receivers that deduplicate by id do not drop it
    assert second["webhook"]["id"] == ids[1]
    # The job records the delivery once the receiver has answered: a moment after it got the request.
    delivered = wait_until(
        lambda: (webhook := client.get(f"/jobs/{job_id}").get_json()["webhook"])["state"] == "delivered" and webhook,
        message="the job to record its second webhook delivered",
    )
    assert delivered["id"] == ids[1]


def test_a_cancelled_job_runs_when_retried(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}, "delay_seconds": 600})
    job_id = job_id.get_json()["job_id"]
    assert client.post(f"/jobs/{job_id}/cancel").get_json()["status"] == "cancelled"
    assert client.post(f"/jobs/{job_id}/retry").status_code == 202
    job = finished_job(_get(client), job_id)
    assert job["status"] == "completed" and job["result"]["is_prime"] is True


def test_only_failed_or_cancelled_jobs_can_be_retried(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}).get_json()["job_id"]
    finished_job(_get(client), job_id)
    refused = client.post(f"/jobs/{job_id}/retry")
    assert refused.status_code == 409
    assert refused.get_json()["error"] == "JOB_NOT_RETRYABLE" and refused.get_json()["details"]["status"] == "completed"
    assert client.post("/jobs/0123456789ab/retry").status_code == 404
    assert client.post("/jobs/not-an-id/retry").status_code == 404
