"""Webhooks through a real job worker, a real webhook worker and a real receiver: log, schedule, durability."""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest
import redis
from flask.testing import FlaskClient
from standardwebhooks import Webhook as StandardWebhook
from support import WebhookReceiver, finished_job, metric_value, wait_until

from app import create_app
from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.routes import EXTENSION_KEY
from app.services.messages import WEBHOOKS_QUEUE
from app.storage.keys import Keys
from app.storage.queue import QueueStore
from app.wiring import Services
from workers.process import start_worker

pytestmark = pytest.mark.usefixtures("worker")  # jobs run, so that their webhooks are due


def _job_with_webhook(client: FlaskClient, url: str, number: int = 17) -> str:
    response = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": number}, "webhook": url})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["job_id"]


def _webhook(client: FlaskClient, job_id: str) -> dict:
    return client.get(f"/jobs/{job_id}").get_json()["webhook"]


def _settled(client: FlaskClient, job_id: str, timeout: float = 15) -> dict:
    return wait_until(
        lambda: (w := _webhook(client, job_id))["state"] != "pending" and w,
        timeout=timeout,
        message=f"the webhook of {job_id} to be delivered or failed",
    )


def _webhook_worker(config: Config, threads: int = 4):
    return start_worker(config, threads, role="webhooks")


def _stop(worker) -> None:
    worker.stop(timeout=10_000)
    worker.broker.close()


def _deliveries(client: FlaskClient, status: str) -> float:
    return metric_value(client.get("/metrics").get_data(as_text=True), "webhook_deliveries_total", status=status)


@pytest.mark.usefixtures("webhook_worker")
def test_a_finished_job_posts_its_signed_result_once(
    client: FlaskClient, services: Services, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _job_with_webhook(client, webhook_receiver.url("/hook?token=secret"))
    webhook = _settled(client, job_id)
    [received] = webhook_receiver.received
    payload = StandardWebhook(services.webhooks.secret()).verify(received.body, received.headers)
    job = client.get(f"/jobs/{job_id}").get_json()
    assert payload == {
        "type": "job.completed",
        **{k: job[k] for k in ("job_id", "status", "algorithm", "result", "error", "metadata", "completed_at")},
    }
    assert received.headers["webhook-id"] == webhook["id"]
    assert webhook["state"] == "delivered" and webhook["reason"] is None
    assert webhook["url"] == webhook_receiver.url("/hook?***")
    [attempt] = webhook["attempts"]
    assert (attempt["series"], attempt["number"], attempt["status_code"], attempt["error"]) == (1, 1, 200, None)


@pytest.mark.usefixtures("webhook_worker")
def test_an_always_failing_receiver_gets_four_attempts_on_schedule_with_one_webhook_id(
    client: FlaskClient, services: Services, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.statuses = [500]
    delays = services.config.webhook_retry_delays  # shrunk to 50, 100, 200 ms by the config fixture
    job_id = _job_with_webhook(client, webhook_receiver.url())
    webhook = _settled(client, job_id)
    attempts = webhook_receiver.received
    assert len(attempts) == 4
    assert len({a.headers["webhook-id"] for a in attempts}) == 1
    gaps = [later.at - earlier.answered_at for earlier, later in itertools.pairwise(attempts)]
    # 10 ms of slack below: due times are whole ms and the receiver notes its answer after sending it.
    assert all(delay - 0.01 <= gap < delay + 0.25 for gap, delay in zip(gaps, delays, strict=True)), gaps
    assert webhook["state"] == "failed"
    assert "no 2xx answer after 4 attempts" in webhook["reason"]
    assert [(a["number"], a["status_code"]) for a in webhook["attempts"]] == [(1, 500), (2, 500), (3, 500), (4, 500)]
    wait_until(
        lambda: (_deliveries(client, "retry"), _deliveries(client, "failed")) == (3, 1),
        timeout=5,
        message="3 retries and 1 failure counted",
    )


@pytest.mark.usefixtures("webhook_worker")
def test_410_gone_stops_at_once(client: FlaskClient, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.statuses = [410]
    webhook = _settled(client, _job_with_webhook(client, webhook_receiver.url()))
    assert (webhook["state"], len(webhook["attempts"]), len(webhook_receiver.received)) == ("failed", 1, 1)
    assert "410" in webhook["reason"]


def test_retry_after_is_waited_out(config: Config, make_client, webhook_receiver: WebhookReceiver) -> None:
    client = make_client(webhook_retry_delays=(0.05, 2.0, 2.0))
    webhook_receiver.statuses = [429, 200]
    webhook_receiver.headers = {"Retry-After": "1"}
    webhooks = _webhook_worker(dataclasses.replace(config, webhook_retry_delays=(0.05, 2.0, 2.0)))
    try:
        webhook = _settled(client, _job_with_webhook(client, webhook_receiver.url()))
    finally:
        _stop(webhooks)
    first, second = webhook_receiver.received
    assert 0.99 <= second.at - first.answered_at < 1.25  # not the scheduled 0.05 s
    assert webhook["state"] == "delivered"


@pytest.mark.usefixtures("webhook_worker")
def test_redelivery_starts_a_new_series_with_the_same_webhook_id(
    client: FlaskClient, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _job_with_webhook(client, webhook_receiver.url())
    _settled(client, job_id)
    response = client.post(f"/v1/jobs/{job_id}/webhook/redeliver")
    assert response.status_code == 202
    # A new series waits for the webhook worker, which may already have delivered it by the time the job is read.
    assert response.get_json()["webhook"]["state"] in ("pending", "delivered")
    wait_until(lambda: len(_webhook(client, job_id)["attempts"]) == 2, timeout=10, message="the redelivery")
    first, second = webhook_receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert [(a["series"], a["number"]) for a in _webhook(client, job_id)["attempts"]] == [(1, 1), (2, 1)]


def test_redelivery_is_refused_for_unfinished_jobs_and_jobs_without_webhook(
    client: FlaskClient, services: Services, webhook_receiver: WebhookReceiver
) -> None:
    worker_free = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}).get_json()
    finished_job(lambda path: client.get(path).get_json(), worker_free["job_id"])
    no_webhook = client.post(f"/jobs/{worker_free['job_id']}/webhook/redeliver")
    assert (no_webhook.status_code, no_webhook.get_json()["error"]) == (404, "WEBHOOK_NOT_FOUND")
    unknown = client.post("/jobs/ffffffffffff/webhook/redeliver")
    assert (unknown.status_code, unknown.get_json()["error"]) == (404, "JOB_NOT_FOUND")
    hard = 18446744073709551557 * 18446744073709551533
    running = _job_with_webhook(client, webhook_receiver.url(), number=hard)
    unfinished = client.post(f"/jobs/{running}/webhook/redeliver")
    assert (unfinished.status_code, unfinished.get_json()["error"]) == (409, "JOB_NOT_FINISHED")


def test_an_attempt_due_while_every_webhook_worker_is_stopped_happens_afterwards_once(
    client: FlaskClient, config: Config, redis_client: redis.Redis, webhook_receiver: WebhookReceiver
) -> None:
    config = dataclasses.replace(config, webhook_retry_delays=(1.0, 1.0, 1.0))
    webhook_receiver.statuses = [500, 200]
    webhooks = _webhook_worker(config)
    job_id = _job_with_webhook(client, webhook_receiver.url())
    wait_until(lambda: _webhook(client, job_id)["attempts"], timeout=10, message="the first attempt")
    _stop(webhooks)  # every webhook worker gone, the retry due in 1 s
    [(_, due)] = redis_client.zrange("fs:queue:webhooks:due", 0, -1, withscores=True)
    wait_until(lambda: time.time() * 1000 > due + 300, timeout=5, message="the retry to be overdue")
    assert len(webhook_receiver.received) == 1

    webhooks = _webhook_worker(config)  # the restart
    try:
        webhook = _settled(client, job_id)
    finally:
        _stop(webhooks)
    assert webhook["state"] == "delivered"
    assert len(webhook_receiver.received) == 2
    counts = QueueStore(redis_client, Keys("fs")).counts(WEBHOOKS_QUEUE)
    assert (counts.ready, counts.due, counts.leased) == (0, 0, 0)


def test_an_attempt_held_by_a_worker_that_died_is_made_when_its_lease_runs_out(
    client: FlaskClient, config: Config, redis_client: redis.Redis, webhook_receiver: WebhookReceiver
) -> None:
    queues = QueueStore(redis_client, Keys("fs"))
    job_id = _job_with_webhook(client, webhook_receiver.url())
    # A webhook worker about to die takes the delivery, with a 300 ms lease, and is never heard of again.
    taken = wait_until(
        lambda: queues.fetch(WEBHOOKS_QUEUE, 10, lease_ms=300).deliveries, timeout=10, message="a delivery"
    )
    assert [d.id for d in taken] == [f"{job_id}:1"]
    webhooks = _webhook_worker(config)
    try:
        webhook = _settled(client, job_id)
    finally:
        _stop(webhooks)
    assert webhook["state"] == "delivered"
    assert len(webhook_receiver.received) == 1


def test_an_attempt_due_while_redis_restarts_happens_afterwards_once(
    config: Config, webhook_receiver, make_services
) -> None:
    server = EmbeddedRedis(persistent=True).start()
    config = dataclasses.replace(config, redis_url=server.url, webhook_retry_delays=(1.0, 1.0, 1.0))
    services = make_services(config)
    client = create_app(config, services).test_client()
    worker = start_worker(config, threads=2)
    webhooks = _webhook_worker(config)
    webhook_receiver.statuses = [500, 200]
    try:
        job_id = _job_with_webhook(client, webhook_receiver.url())
        wait_until(lambda: _webhook(client, job_id)["attempts"], timeout=10, message="the first attempt")
        server.stop()  # the retry is due in 1 s; it is due while Redis is away
        restarted_at = time.monotonic() + 1.5
        wait_until(lambda: time.monotonic() > restarted_at, timeout=5, message="the retry's due time to pass")
        server.start()
        webhook = _settled(client, job_id, timeout=20)
        assert webhook["state"] == "delivered"
        assert len(webhook_receiver.received) == 2
        assert [a["number"] for a in webhook["attempts"]] == [1, 2]
    finally:
        _stop(webhooks)
        _stop(worker)
        client.application.extensions[EXTENSION_KEY].metrics.close()
        server.close()


def test_a_hanging_receiver_does_not_hold_up_jobs(config: Config, client: FlaskClient) -> None:
    hanging = WebhookReceiver(hang_seconds=30).start()
    worker = start_worker(config, threads=1)  # one job thread: a delivery on it would block every job
    webhooks = _webhook_worker(dataclasses.replace(config, webhook_timeout_seconds=5), threads=1)
    try:
        _job_with_webhook(client, hanging.url())
        wait_until(lambda: hanging.received, timeout=10, message="the hanging delivery")
        quick = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 9}}).get_json()
        job = finished_job(lambda path: client.get(path).get_json(), quick["job_id"], timeout=3)
        assert job["status"] == "completed"
        assert len(hanging.received) == 1  # still hanging, while jobs run
    finally:
        hanging.stop()
        _stop(webhooks)
        _stop(worker)


@pytest.mark.usefixtures("webhook_worker")
def test_an_attempt_whose_recording_fails_is_made_again_at_once_not_after_its_lease(
    client: FlaskClient, redis_client: redis.Redis, webhook_receiver: WebhookReceiver
) -> None:
    """Redis answers an error mid-attempt (the log key has the wrong type when the outcome is
    recorded); Dramatiq's Retries gives the delivery back at once, not after its 15 s lease."""
    webhook_receiver.hang_seconds = 0.5  # time to spoil the log key while the receiver answers
    job_id = _job_with_webhook(client, webhook_receiver.url())
    wait_until(lambda: webhook_receiver.received, timeout=10, message="the first attempt")
    redis_client.set(f"fs:job:{job_id}:webhook-log", "not a list")  # RPUSH there fails: WRONGTYPE
    # Retries puts the message back in the queue, with the error's traceback in its options
    message_key = ("fs:queue:webhooks:messages", f"{job_id}:1")
    wait_until(
        lambda: b"WRONGTYPE" in (redis_client.hget(*message_key) or b""), timeout=10, message="the failed recording"
    )
    redis_client.delete(f"fs:job:{job_id}:webhook-log")  # the error goes away
    webhook = _settled(client, job_id, timeout=10)
    first, second = webhook_receiver.received[:2]
    assert second.at - first.answered_at < 5  # the lease is 15 s
    assert webhook["state"] == "delivered"


@pytest.mark.usefixtures("webhook_worker")
def test_delivery_metrics(client: FlaskClient, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.statuses = [500, 500, 200]
    job_id = _job_with_webhook(client, webhook_receiver.url())
    _settled(client, job_id)
    wait_until(
        lambda: (_deliveries(client, "retry"), _deliveries(client, "success")) == (2, 1),
        timeout=5,
        message="2 retries and 1 success counted",
    )
    exposition = client.get("/metrics").get_data(as_text=True)
    assert metric_value(exposition, "webhook_delivery_duration_seconds_count") == 3


def test_retries_waiting_are_counted(config: Config, make_client, webhook_receiver: WebhookReceiver) -> None:
    client = make_client(webhook_retry_delays=(30.0,))
    webhook_receiver.statuses = [500]

    def waiting() -> float:
        return metric_value(client.get("/metrics").get_data(as_text=True), "webhook_deliveries_waiting")

    assert waiting() == 0
    webhooks = _webhook_worker(dataclasses.replace(config, webhook_retry_delays=(30.0,)), 2)
    try:
        _job_with_webhook(client, webhook_receiver.url())
        wait_until(lambda: waiting() == 1, timeout=10, message="a retry waiting")
    finally:
        _stop(webhooks)


def test_the_generated_secret_is_shared_by_every_process(config: Config, make_services) -> None:
    first, second = make_services(config), make_services(config)
    assert first.webhooks.secret() == second.webhooks.secret()
    assert first.webhooks.secret().startswith("whsec_")
    configured = "whsec_" + "A" * 43 + "="
    assert make_services(dataclasses.replace(config, webhook_secret=configured)).webhooks.secret() == configured
