"""The client against a running platform, each test once with ``Client`` and once with ``AsyncClient``."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest
from functionalscaffold_client import (
    AlgorithmError,
    AlgorithmNotFound,
    JobAlreadyFinished,
    JobNotFound,
    Unauthorized,
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
    job_body,
    verify_webhook,
)
from receiver import Receiver
from waiting import wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_job_and_its_result(client: Any) -> None:
    job = client.submit("PrimeChecker", {"number": 561}, wait=30)

    assert (job.status, job.result["factors"]) == ("completed", [3, 11, 17])
    assert job.completed_at >= job.started_at >= job.created_at
    assert client.get(job.job_id) == job


def test_invoke_returns_the_result_or_raises_the_algorithms_error(client: Any) -> None:
    invocation = client.invoke("PrimeChecker", number=97)

    assert invocation.result["is_prime"] is True and invocation.metadata["algorithm"] == "PrimeChecker"
    with pytest.raises(AlgorithmError) as raised:
        client.invoke("Failing", n=1)
    assert "number must be positive" in raised.value.message and raised.value.request_id


def test_errors_are_the_classes_of_their_codes(platform: Any, connect: Any, client: Any) -> None:
    with pytest.raises(JobNotFound) as not_found:
        client.get("ffffffffffff")
    assert not_found.value.status == 404 and not_found.value.request_id
    with pytest.raises(ValidationError) as invalid:
        client.submit("PrimeChecker", {"number": "many"})
    assert list(invalid.value.fields) == ["params.number"]
    with pytest.raises(AlgorithmNotFound) as unknown:
        client.invoke("Nope", number=1)
    assert "PrimeChecker" in unknown.value.available
    with pytest.raises(Unauthorized):
        connect(platform.url, "not-a-key").algorithms()


def test_waits_end_when_their_time_is_up_and_cancel_stops_the_job(client: Any) -> None:
    job = client.submit("Sleeping", {"seconds": 30}, wait=0.5)  # not finished: the job as it is
    assert job.status in ("pending", "running")
    with pytest.raises(WaitTimeout) as raised:
        client.wait(job.job_id, timeout=0.5)
    assert raised.value.job.job_id == job.job_id

    assert client.cancel(job.job_id).job_id == job.job_id
    assert client.wait(job.job_id, timeout=15).status == "cancelled"
    with pytest.raises(JobAlreadyFinished):
        client.cancel(job.job_id)


def test_list_walks_every_page_newest_first_with_filters(client: Any) -> None:
    submitted = [client.submit("PrimeChecker", {"number": n}, wait=30) for n in (10, 11, 12)]
    submitted.append(client.submit("Failing", {"n": 1}, wait=30))

    assert [job.job_id for job in client.list(page_size=2)] == [job.job_id for job in reversed(submitted)]
    assert [job.job_id for job in client.list(status="failed")] == [submitted[-1].job_id]
    assert len(list(client.list(algorithm="PrimeChecker", status="completed", page_size=2))) == 3


def test_a_batch_is_submitted_followed_and_cancelled(client: Any) -> None:
    made = client.submit_batch([job_body("PrimeChecker", {"number": n}) for n in (5, 6, 7)])
    assert made.total == 3 and len(made.job_ids) == 3

    done = wait_until(lambda: (b := client.get_batch(made.batch_id)).finished and b, 30, "the batch to end")
    assert done.counts.get("completed") == 3 and {job.job_id for job in done.jobs} == set(made.job_ids)
    assert client.cancel_batch(made.batch_id).batch_id == made.batch_id  # safe to repeat, even once ended


def test_events_follow_a_job_to_its_end_with_its_progress(client: Any) -> None:
    number = 3 * (2**61 - 1) * (2**89 - 1)  # factoring it takes the whole budget, reporting as it goes
    job = client.submit("PrimeChecker", {"number": number, "time_budget": 1.5})

    events = list(client.events(job.job_id))

    kinds = [event.kind for event in events]
    assert kinds[0] == "status" and kinds[-1] == "end" and "progress" in kinds
    assert events[-1].data == {"status": "completed"}
    assert [event.kind for event in client.events(job.job_id, last_event_id=events[-1].id)] == ["end"]


def test_webhooks_verify_and_redeliver(platform: Any, client: Any) -> None:
    with Receiver() as receiver:
        job = client.submit("PrimeChecker", {"number": 7}, receiver.url, wait=30)
        [first] = wait_until(lambda: receiver.received, 15, "the webhook")

        payload = verify_webhook(platform.webhook_secret, first.body, first.headers)

        assert (payload["job_id"], payload["status"]) == (job.job_id, "completed")
        with pytest.raises(WebhookVerificationError):
            verify_webhook(platform.webhook_secret, first.body.replace(b"completed", b"failed"), first.headers)
        stale = {**first.headers, "webhook-timestamp": str(int(time.time()) - 3600)}
        with pytest.raises(WebhookVerificationError):
            verify_webhook(platform.webhook_secret, first.body, stale)
        client.redeliver_webhook(job.job_id)
        wait_until(lambda: len(receiver.received) == 2, 15, "the redelivery")
        assert json.loads(receiver.received[1].body)["job_id"] == job.job_id


def test_with_several_urls_a_host_that_is_down_costs_one_retry(platform: Any, connect: Any) -> None:
    down = f"http://127.0.0.1:{_free_port()}"
    client = connect([down, platform.url], platform.key())

    assert client.invoke("PrimeChecker", number=91).result["factors"] == [7, 13]  # never sent to `down`
    assert client.base_url == platform.url  # later calls start where the answer came from
