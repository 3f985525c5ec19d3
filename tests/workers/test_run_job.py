"""Jobs end to end through a real Redis broker and a real Dramatiq worker."""

from __future__ import annotations

import dataclasses
import queue
import socket
import threading
from pathlib import Path

import dramatiq
import pytest
import redis
from flask.testing import FlaskClient
from support import finished_job, metric_value, wait_until

from app import create_app
from app.domain.models import JobStatus
from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.services.execution import run_algorithm
from app.services.messages import JOBS_QUEUE, RUN_JOB_ACTOR
from app.storage.queue import Receipt
from app.wiring import Services
from workers.process import build_broker, start_worker


def _submit(client: FlaskClient, params: dict, algorithm: str = "PrimeChecker", **extra: object) -> str:
    response = client.post("/jobs", json={"algorithm": algorithm, "params": params, **extra})
    assert response.status_code == 202, response.get_json()
    return response.get_json()["job_id"]


def _finished(client: FlaskClient, job_id: str) -> dict:
    return finished_job(lambda path: client.get(path).get_json(), job_id)


def test_a_finished_job_leaves_no_message_behind(
    client: FlaskClient, worker: dramatiq.Worker, services: Services, redis_client
) -> None:
    _finished(client, _submit(client, {"number": 561}))
    # acknowledged with the outcome: nothing left to run again, for this worker or another
    counts = services.queues.counts(JOBS_QUEUE)
    assert (counts.ready, counts.due, counts.leased, counts.dead) == (0, 0, 0, 0)
    assert redis_client.hlen("fs:queue:jobs:messages") == 0


@pytest.mark.usefixtures("worker")
def test_a_job_runs_and_its_result_is_stored(client: FlaskClient) -> None:
    job = _finished(client, _submit(client, {"number": 561}))
    assert job["status"] == "completed"
    assert job["result"]["factors"] == [3, 11, 17]
    assert job["metadata"]["algorithm"] == "PrimeChecker" and job["metadata"]["version"] == "1.0.0"
    assert job["error"] is None
    assert job["attempts"] == 1
    assert job["created_at"] <= job["started_at"] <= job["completed_at"]
    assert job["worker_host"] == socket.gethostname()  # where it ran


@pytest.mark.usefixtures("worker")
def test_an_algorithm_exception_fails_the_job_with_a_useful_error_and_its_traceback(client: FlaskClient) -> None:
    job = _finished(client, _submit(client, {"n": 1}, algorithm="Failing"))
    assert job["status"] == "failed"
    assert job["error"] == "ValueError: number must be positive"
    assert job["result"] is None and job["metadata"] is None
    assert job["attempts"] == 1  # an algorithm error is the outcome, not retried
    details = job["error_details"]
    assert details.startswith("Traceback (most recent call last):")
    assert 'testing_algorithms.py", line' in details and "in run" in details
    assert details.endswith("ValueError: number must be positive")


@pytest.mark.usefixtures("worker")
def test_a_long_traceback_keeps_the_frames_nearest_the_error_within_8_kb(client: FlaskClient) -> None:
    deep = _finished(client, _submit(client, {"depth": 200, "length": 10}, algorithm="Deep"))["error_details"]
    assert deep.count("in _down") <= 20 and deep.endswith("RuntimeError: " + "x" * 10)  # the last frames
    huge = _finished(client, _submit(client, {"depth": 3, "length": 20_000}, algorithm="Deep"))["error_details"]
    assert len(huge.encode()) <= 8 * 1024 and huge.startswith("...") and huge.endswith("x" * 100)


@pytest.mark.usefixtures("worker")
def test_a_completed_job_has_no_error_details(client: FlaskClient) -> None:
    assert _finished(client, _submit(client, {"number": 7}))["error_details"] is None


def test_a_second_message_for_a_finished_job_does_not_run_it_again(
    client: FlaskClient, services: Services, worker: dramatiq.Worker
) -> None:
    job_id = _submit(client, {"number": 17})
    first = _finished(client, job_id)
    duplicate = dramatiq.Message(queue_name=JOBS_QUEUE, actor_name=RUN_JOB_ACTOR, args=(job_id,), kwargs={}, options={})
    worker.broker.enqueue(duplicate)
    worker.broker.join(JOBS_QUEUE, timeout=10_000)
    worker.join()
    assert client.get(f"/jobs/{job_id}").get_json() == first


def test_jobs_of_a_worker_that_died_are_run_again_by_a_live_one(
    client: FlaskClient, config: Config, services: Services
) -> None:
    """What a SIGKILL leaves behind: a message fetched, never acked, by a worker that went silent."""
    config = dataclasses.replace(config, worker_lease_seconds=0.6)
    job_id = _submit(client, {"number": 12})
    dead = build_broker(config, services.queues)
    dead.declare_queue(JOBS_QUEUE)
    consumer = dead.consume(JOBS_QUEUE, prefetch=1, timeout=100)
    wait_until(lambda: next(consumer), timeout=5, message="the dying worker to take the message")

    survivor = start_worker(config, threads=1)
    try:
        job = _finished(client, job_id)
    finally:
        survivor.stop(timeout=10_000)
        survivor.broker.close()
    assert (job["status"], job["result"]["factors"]) == ("completed", [2, 2, 3])


def test_a_job_left_running_by_a_crash_runs_again_and_completes(client: FlaskClient, services: Services) -> None:
    job_id = _submit(client, {"number": 12})
    services.runs.start_job(job_id)  # the first run's worker "died" here, after marking it running
    worker = start_worker(services.config, threads=2)
    try:
        job = _finished(client, job_id)
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
    assert (job["status"], job["attempts"], job["result"]["factors"]) == ("completed", 2, [2, 2, 3])


@pytest.mark.usefixtures("webhook_worker")
def test_a_job_that_keeps_killing_its_worker_is_failed_with_its_webhook_sent(
    client: FlaskClient, services: Services, webhook_receiver
) -> None:
    job_id = _submit(client, {"number": 12}, webhook=webhook_receiver.url())
    for _ in range(services.config.job_max_attempts):
        services.runs.start_job(job_id)  # each run "crashed"
    worker = start_worker(services.config, threads=2)
    try:
        job = _finished(client, job_id)
        [delivery] = wait_until(lambda: webhook_receiver.received, timeout=10, message="the webhook")
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
    assert job["status"] == "failed"
    assert "died 3 times" in job["error"]
    assert delivery.json()["status"] == "failed"
    assert delivery.json()["type"] == "job.failed"


@pytest.mark.usefixtures("worker")
def test_job_metrics_are_counted_by_the_worker(client: FlaskClient) -> None:
    for n in (7, 8):
        _finished(client, _submit(client, {"number": n}))

    def completed() -> float:
        exposition = client.get("/metrics").get_data(as_text=True)
        return metric_value(exposition, "jobs_completed_total", algorithm="PrimeChecker", status="completed")

    wait_until(lambda: completed() == 2.0, timeout=5, message="2 completed jobs in /metrics")
    exposition = client.get("/metrics").get_data(as_text=True)
    assert metric_value(exposition, "job_execution_duration_seconds_count", algorithm="PrimeChecker") == 2


def test_status_never_goes_backwards(services: Services, client: FlaskClient) -> None:
    job_id = _submit(client, {"number": 7})
    job = services.runs.start_job(job_id)
    in_this_thread = lambda algorithm, params, timeout, stop_asked, progress: run_algorithm(algorithm, params)  # noqa: E731
    outcome = services.runs.execute_job(job, in_this_thread, lambda: False)
    services.runs.finish_job(job, outcome, Receipt(JOBS_QUEUE, job_id, 0))
    assert services.jobs.get_job(job_id, "_").status is JobStatus.COMPLETED
    assert services.runs.start_job(job_id).status is JobStatus.COMPLETED
    assert services.jobs.get_job(job_id, "_").attempts == 1


def test_a_delivery_whose_lease_ran_out_does_not_take_the_job_over(services: Services, client: FlaskClient) -> None:
    """A worker cut off after fetching a job, back after its lease ran out (and another worker took
    the job), must not start it: the job stays the other worker's."""
    job_id = _submit(client, {"number": 7})
    [stale] = services.queues.fetch(JOBS_QUEUE, 1, lease_ms=50).deliveries
    [current] = wait_until(
        lambda: services.queues.fetch(JOBS_QUEUE, 1, lease_ms=10_000).deliveries, message="the lease to run out"
    )
    assert services.runs.start_job(job_id, Receipt(JOBS_QUEUE, job_id, stale.number)) is None
    assert services.jobs.get_job(job_id, "_").status is JobStatus.PENDING
    job = services.runs.start_job(job_id, Receipt(JOBS_QUEUE, job_id, current.number))
    assert job is not None and job.status is JobStatus.RUNNING and job.attempts == 1


def test_a_job_and_its_message_are_stored_together_or_not_at_all_when_redis_is_killed(
    config: Config, make_services
) -> None:
    """Creating a job is one script: Redis SIGKILLed while submissions are in flight leaves no job
    without its message and no message without its job (a request cut off may or may not have
    made its job; the answer it got was 503, and Idempotency-Key makes retrying it safe)."""
    server = EmbeddedRedis(persistent=True).start()
    config = dataclasses.replace(config, redis_url=server.url, redis_timeout_seconds=0.5)
    services = make_services(config)
    client = create_app(config, services).test_client()
    accepted: list[str] = []
    refused: list[int] = []
    stop = threading.Event()

    def submit() -> None:
        n = 2
        while not stop.is_set():
            n += 1
            response = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": n}})
            if response.status_code == 202:
                accepted.append(response.get_json()["job_id"])
            else:
                refused.append(response.status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        wait_until(lambda: len(accepted) >= 100, timeout=30, message="100 jobs accepted")
        server.process.kill()  # SIGKILL, with requests in flight: Redis flushes nothing more itself
        server.process.wait()
        wait_until(lambda: len(refused) >= 8, timeout=30, message="submissions refused while Redis is down")
        stop.set()
        for thread in threads:
            thread.join()
        server.process = None
        server.start()  # the same directory: the append-only file, synced on every write, is read back
        raw = redis.Redis.from_url(server.url)
        jobs = {key.decode().split(":")[2] for key in raw.keys("fs:job:*") if key.count(b":") == 2}
        messages = {m.decode() for m in raw.hkeys("fs:queue:jobs:messages")}
        ready = {m.decode() for m in raw.zrange("fs:queue:jobs:ready", 0, -1)}
    finally:
        stop.set()
        services.metrics.close()
        server.close()
    assert set(refused) == {503}
    assert set(accepted) <= jobs  # every job answered 202 survived the kill
    assert jobs == messages == ready  # each with its message, and no message without its job


def test_progress_reports_of_a_running_job_reach_the_workers_callback(
    client: FlaskClient, config: Config, tmp_path: Path
) -> None:
    reports: queue.SimpleQueue[tuple[str, float, str]] = queue.SimpleQueue()
    worker = start_worker(
        config, threads=2, on_progress=lambda job, fraction, message: reports.put((job.job_id, fraction, message))
    )
    try:
        gate = tmp_path / "gate"
        job_id = _submit(client, {"gate": str(gate)}, algorithm="Gated")  # reports from its algorithm process
        assert reports.get(timeout=10) == (job_id, 0.0, "at the gate")
        assert client.get(f"/jobs/{job_id}").get_json()["status"] == "running"
        gate.touch()
        assert _finished(client, job_id)["status"] == "completed"
        assert reports.get(timeout=1) == (job_id, 1.0, "through")
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()
