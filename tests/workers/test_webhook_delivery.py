"""Webhooks through a real job worker, a real dispatcher and a real receiver: log, schedule, durability."""

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
from app.config import Config
from app.embedded_redis import EmbeddedRedis
from app.routes import EXTENSION_KEY
from app.storage.keys import Keys
from app.storage.webhooks import WebhookStore
from app.wiring import Services, build_services
from workers.process import start_dispatcher, start_worker

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


def _deliveries(client: FlaskClient, status: str) -> float:
    return metric_value(client.get("/metrics").get_data(as_text=True), "webhook_deliveries_total", status=status)


@pytest.mark.usefixtures("dispatcher")
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


@pytest.mark.usefixtures("dispatcher")
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


@pytest.mark.usefixtures("dispatcher")
def test_410_gone_stops_at_once(client: FlaskClient, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.statuses = [410]
    webhook = _settled(client, _job_with_webhook(client, webhook_receiver.url()))
    assert (webhook["state"], len(webhook["attempts"]), len(webhook_receiver.received)) == ("failed", 1, 1)
    assert "410" in webhook["reason"]


def test_retry_after_is_waited_out(config: Config, make_client, webhook_receiver: WebhookReceiver) -> None:
    client = make_client(webhook_retry_delays=(0.05, 2.0, 2.0))
    webhook_receiver.statuses = [429, 200]
    webhook_receiver.headers = {"Retry-After": "1"}
    dispatcher, thread = start_dispatcher(dataclasses.replace(config, webhook_retry_delays=(0.05, 2.0, 2.0)), 4)
    try:
        webhook = _settled(client, _job_with_webhook(client, webhook_receiver.url()))
    finally:
        dispatcher.stop()
        thread.join()
    first, second = webhook_receiver.received
    assert 0.99 <= second.at - first.answered_at < 1.25  # not the scheduled 0.05 s
    assert webhook["state"] == "delivered"


@pytest.mark.usefixtures("dispatcher")
def test_redelivery_starts_a_new_series_with_the_same_webhook_id(
    client: FlaskClient, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _job_with_webhook(client, webhook_receiver.url())
    _settled(client, job_id)
    response = client.post(f"/v1/jobs/{job_id}/webhook/redeliver")
    assert response.status_code == 202
    assert response.get_json()["webhook"]["state"] == "pending"
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


def test_an_attempt_due_while_every_dispatcher_is_stopped_happens_afterwards_once(
    client: FlaskClient, config: Config, redis_client: redis.Redis, webhook_receiver: WebhookReceiver
) -> None:
    config = dataclasses.replace(config, webhook_retry_delays=(1.0, 1.0, 1.0))
    webhook_receiver.statuses = [500, 200]
    dispatcher, thread = start_dispatcher(config, 4)
    job_id = _job_with_webhook(client, webhook_receiver.url())
    wait_until(lambda: _webhook(client, job_id)["attempts"], timeout=10, message="the first attempt")
    dispatcher.stop()  # every dispatcher gone, the retry due in 1 s
    thread.join()
    [(_, due)] = redis_client.zrange("fs:webhooks:due", 0, -1, withscores=True)
    wait_until(lambda: time.time() * 1000 > due + 300, timeout=5, message="the retry to be overdue")
    assert len(webhook_receiver.received) == 1

    dispatcher, thread = start_dispatcher(config, 4)  # the restart
    try:
        webhook = _settled(client, job_id)
    finally:
        dispatcher.stop()
        thread.join()
    assert webhook["state"] == "delivered"
    assert len(webhook_receiver.received) == 2
    assert redis_client.zcard("fs:webhooks:due") == redis_client.zcard("fs:webhooks:leased") == 0


def test_an_attempt_held_by_a_dispatcher_that_died_is_made_when_its_lease_runs_out(
    client: FlaskClient, config: Config, redis_client: redis.Redis, webhook_receiver: WebhookReceiver
) -> None:
    store = WebhookStore(redis_client, Keys("fs"))
    job_id = _job_with_webhook(client, webhook_receiver.url())
    # A dispatcher about to die claims the attempt, with a 300 ms lease, and is never heard of again.
    claims = wait_until(lambda: store.claim(300, 10)[0], timeout=10, message="a claim")
    assert [c.job_id for c in claims] == [job_id]
    dispatcher, thread = start_dispatcher(config, 4)
    try:
        webhook = _settled(client, job_id)
    finally:
        dispatcher.stop()
        thread.join()
    assert webhook["state"] == "delivered"
    assert len(webhook_receiver.received) == 1


def test_an_attempt_due_while_redis_restarts_happens_afterwards_once(config: Config, webhook_receiver) -> None:
    server = EmbeddedRedis(persistent=True).start()
    config = dataclasses.replace(config, redis_url=server.url, webhook_retry_delays=(1.0, 1.0, 1.0))
    services = build_services(config)
    client = create_app(config, services).test_client()
    worker = start_worker(config, threads=2)
    dispatcher, thread = start_dispatcher(config, 4)
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
        dispatcher.stop()
        thread.join()
        worker.stop(timeout=10_000)
        worker.broker.close()
        client.application.extensions[EXTENSION_KEY].metrics.close()
        server.close()


def test_a_hanging_receiver_does_not_hold_up_jobs(config: Config, client: FlaskClient) -> None:
    hanging = WebhookReceiver(hang_seconds=30).start()
    worker = start_worker(config, threads=1)  # one job thread: a delivery on it would block every job
    dispatcher, thread = start_dispatcher(dataclasses.replace(config, webhook_timeout_seconds=5), 1)
    try:
        _job_with_webhook(client, hanging.url())
        wait_until(lambda: hanging.received, timeout=10, message="the hanging delivery")
        quick = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 9}}).get_json()
        job = finished_job(lambda path: client.get(path).get_json(), quick["job_id"], timeout=3)
        assert job["status"] == "completed"
        assert len(hanging.received) == 1  # still hanging, while jobs run
    finally:
        hanging.stop()
        dispatcher.stop()
        thread.join()
        worker.stop(timeout=10_000)
        worker.broker.close()


def test_a_dispatcher_keeps_going_after_an_unexpected_error(
    config: Config, client: FlaskClient, services: Services, webhook_receiver: WebhookReceiver, monkeypatch
) -> None:
    dispatcher, thread = start_dispatcher(config, 2)
    claim_due = dispatcher._webhooks.claim_due
    failures = iter([redis.ResponseError("READONLY You can't write against a read only replica.")])

    def flaky(limit: int):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return claim_due(limit)

    monkeypatch.setattr(dispatcher._webhooks, "claim_due", flaky)
    try:
        webhook = _settled(client, _job_with_webhook(client, webhook_receiver.url()))
    finally:
        dispatcher.stop()
        thread.join()
    assert webhook["state"] == "delivered"
    assert next(failures, None) is None  # the error did happen, and was survived


@pytest.mark.usefixtures("dispatcher")
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
    dispatcher, thread = start_dispatcher(dataclasses.replace(config, webhook_retry_delays=(30.0,)), 2)
    try:
        _job_with_webhook(client, webhook_receiver.url())
        wait_until(lambda: waiting() == 1, timeout=10, message="a retry waiting")
    finally:
        dispatcher.stop()
        thread.join()


def test_the_generated_secret_is_shared_by_every_process(config: Config) -> None:
    first, second = build_services(config), build_services(config)
    assert first.webhooks.secret() == second.webhooks.secret()
    assert first.webhooks.secret().startswith("whsec_")
    configured = "whsec_" + "A" * 43 + "="
    assert build_services(dataclasses.replace(config, webhook_secret=configured)).webhooks.secret() == configured
