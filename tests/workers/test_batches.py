"""Batches through the API and real workers on a real Redis: one step to create, counts, one webhook."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient
from standardwebhooks import Webhook as StandardWebhook
from support import wait_until

from app.wiring import Services


def _batch(client: FlaskClient, batch_id: str, **query: object) -> dict:
    response = client.get(f"/batches/{batch_id}", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _ended(client: FlaskClient, batch_id: str, timeout: float = 60) -> dict:
    return wait_until(
        lambda: (batch := _batch(client, batch_id))["status"] == "completed" and batch,
        timeout=timeout,
        interval=0.1,
        message=f"batch {batch_id} to end",
    )


@pytest.mark.usefixtures("worker", "webhook_worker")
def test_a_batch_of_1000_with_mixed_outcomes_counts_right_and_sends_one_webhook(
    client: FlaskClient, services: Services, webhook_receiver
) -> None:
    jobs = [
        {"algorithm": "Failing", "params": {"n": 1}}
        if i % 10 == 0
        else {"algorithm": "PrimeChecker", "params": {"number": i + 2}}
        for i in range(1000)
    ]
    response = client.post("/batches", json={"jobs": jobs, "webhook": webhook_receiver.url()})
    assert response.status_code == 202, response.get_json()
    created = response.get_json()
    assert response.headers["Location"] == f"/batches/{created['batch_id']}"
    assert len(created["job_ids"]) == 1000 and len(set(created["job_ids"])) == 1000

    batch = _ended(client, created["batch_id"])
    assert batch["total"] == 1000
    assert {k: v for k, v in batch["counts"].items() if v} == {"completed": 900, "failed": 100}
    assert batch["completed_at"] is not None

    [delivery] = wait_until(lambda: webhook_receiver.received, timeout=10, message="the batch webhook")
    payload = StandardWebhook(services.webhooks.secret()).verify(delivery.body, delivery.headers)
    assert payload["type"] == "batch.completed" and payload["batch_id"] == created["batch_id"]
    assert payload["counts"] == {"completed": 900, "failed": 100, "cancelled": 0}
    wait_until(
        lambda: _batch(client, created["batch_id"])["webhook"]["state"] == "delivered", timeout=10, message="logged"
    )
    assert len(webhook_receiver.received) == 1

    first_page = _batch(client, created["batch_id"], limit=100)
    assert [job["job_id"] for job in first_page["jobs"]] == created["job_ids"][:100]
    second = _batch(client, created["batch_id"], limit=100, cursor=first_page["next_cursor"])
    assert [job["job_id"] for job in second["jobs"]] == created["job_ids"][100:200]
    assert second["jobs"][0]["batch_id"] == created["batch_id"]
    last = _batch(client, created["batch_id"], limit=100, cursor="900")
    assert last["next_cursor"] is None and len(last["jobs"]) == 100
    assert client.get(f"/jobs/{created['job_ids'][5]}").get_json()["status"] == "completed"  # ordinary jobs


def test_creating_a_batch_is_a_bounded_number_of_redis_round_trips(client: FlaskClient, redis_server) -> None:
    jobs = [{"algorithm": "PrimeChecker", "params": {"number": i + 2}} for i in range(1000)]
    with _round_trips(redis_server.url) as sent:
        assert client.post("/batches", json={"jobs": jobs}).status_code == 202
    assert 0 < len(sent) < 10, sent  # one script creates the batch and its 1000 jobs (not 1000 calls)


@contextlib.contextmanager
def _round_trips(url: str) -> Iterator[list[str]]:
    """The commands clients send meanwhile (MONITOR, leaving out those Lua scripts run)."""
    sent: list[str] = []
    done = "end-of-test-" + str(id(sent))
    monitor_client = redis.Redis.from_url(url)

    def watch() -> None:
        with monitor_client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                if done in command["command"]:
                    return
                if command.get("client_type") != "lua":
                    sent.append(command["command"].split()[0])

    ready = threading.Event()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert ready.wait(5)
    yield sent
    redis.Redis.from_url(url).echo(done)
    watcher.join(10)


def test_an_invalid_job_rejects_the_batch_with_every_error_by_index(client: FlaskClient, services: Services) -> None:
    jobs = [{"algorithm": "PrimeChecker", "params": {"number": 7}} for _ in range(20)]
    jobs[3] = {"algorithm": "PrimeChecker", "params": {"number": -1}}
    jobs[17] = {"algorithm": "PrimeChecker", "params": {"number": 5}, "retry": {"max_attempts": 50}}
    jobs[18] = {"algorithm": "NoSuchThing", "params": {}}
    response = client.post("/batches", json={"jobs": jobs})
    assert response.status_code == 400
    errors = response.get_json()["details"]["errors"]
    assert set(errors) == {"jobs[17].retry.max_attempts"}  # the body's own schema comes first
    jobs[17] = {"algorithm": "PrimeChecker", "params": {"number": 5}}
    errors = client.post("/batches", json={"jobs": jobs}).get_json()["details"]["errors"]
    assert set(errors) == {"jobs[3].params.number", "jobs[18].algorithm"}
    assert client.get("/jobs").get_json()["jobs"] == []  # nothing stored


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"jobs": []}, 400, "VALIDATION_ERROR"),
        ({"jobs": [{"algorithm": "PrimeChecker", "params": {"number": 7}}] * 1001}, 400, "VALIDATION_ERROR"),
        ({"jobs": "nope"}, 400, "VALIDATION_ERROR"),
        ({}, 400, "VALIDATION_ERROR"),
    ],
)
def test_bad_batches_are_400_with_the_limit(client: FlaskClient, body: dict, status: int, error: str) -> None:
    response = client.post("/batches", json=body)
    assert (response.status_code, response.get_json()["error"]) == (status, error)
    if "jobs" in body and isinstance(body["jobs"], list):
        assert "1 to 1000" in json.dumps(response.get_json())


def test_a_batch_over_the_body_limit_is_413(make_client) -> None:
    client = make_client(max_body_bytes=10_000)
    jobs = [{"algorithm": "PrimeChecker", "params": {"number": 7}}] * 1000
    response = client.post("/batches", json={"jobs": jobs})
    assert (response.status_code, response.get_json()["details"]["max_body_bytes"]) == (413, 10_000)


def test_cancelling_a_batch_cancels_what_has_not_finished(client: FlaskClient, services: Services) -> None:
    jobs = [{"algorithm": "PrimeChecker", "params": {"number": 7}, "delay_seconds": 600} for _ in range(5)]
    batch_id = client.post("/batches", json={"jobs": jobs}).get_json()["batch_id"]
    assert _batch(client, batch_id)["counts"]["scheduled"] == 5
    response = client.post(f"/batches/{batch_id}/cancel")
    assert response.status_code == 202
    body = response.get_json()
    assert body["counts"]["cancelled"] == 5 and body["status"] == "completed"
    assert services.queues.counts("jobs").due == 0


def test_an_idempotent_batch_retry_returns_the_first_batch(client: FlaskClient) -> None:
    body = {"jobs": [{"algorithm": "PrimeChecker", "params": {"number": 7}}] * 3}
    headers = {"Idempotency-Key": "batch-1"}
    first = client.post("/batches", json=body, headers=headers).get_json()
    again = client.post("/batches", json=body, headers=headers).get_json()
    assert again["batch_id"] == first["batch_id"] and again["job_ids"] == first["job_ids"]
    other = client.post("/batches", json={"jobs": body["jobs"][:2]}, headers=headers)
    assert other.status_code == 409 and other.get_json()["error"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(client.get("/jobs").get_json()["jobs"]) == 3


def test_another_key_s_batch_is_not_found(make_client, services: Services) -> None:
    mine, _ = services.auth.create_key("mine")
    theirs, _ = services.auth.create_key("theirs")
    client = make_client()
    body = {"jobs": [{"algorithm": "PrimeChecker", "params": {"number": 7}}]}
    batch_id = client.post("/batches", json=body, headers={"Authorization": f"Bearer {mine}"}).get_json()["batch_id"]
    other = client.get(f"/batches/{batch_id}", headers={"Authorization": f"Bearer {theirs}"})
    assert (other.status_code, other.get_json()["error"]) == (404, "BATCH_NOT_FOUND")
    assert client.get("/batches/ffffffffffff", headers={"Authorization": f"Bearer {mine}"}).status_code == 404
