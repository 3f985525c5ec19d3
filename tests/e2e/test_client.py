"""The Python client against the platform as users run it (Procfile processes, real Redis, real workers)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator

import pytest
from flaky_proxy import FORWARD_THEN_DROP, FlakyProxy, answer
from support import WebhookReceiver, wait_until

from algorithms import load_algorithms
from app.client import (
    AlgorithmError,
    AlgorithmNotFound,
    Client,
    ConnectionFailed,
    JobAlreadyFinished,
    JobNotFound,
    RateLimited,
    Unauthorized,
    ValidationError,
    WaitTimeout,
    WebhookVerificationError,
    verify_webhook,
)
from app.client.client import API_KEY_ENV, URL_ENV

pytestmark = pytest.mark.slow


@pytest.fixture
def client(keyed_platform) -> Iterator[Client]:
    with Client(keyed_platform.url, keyed_platform.key()) as client:
        yield client


@pytest.fixture
def proxy(keyed_platform) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream=keyed_platform.url).start()
    yield proxy
    proxy.stop()


def test_a_job_and_its_result_in_three_lines(keyed_platform, monkeypatch) -> None:
    monkeypatch.setenv(URL_ENV, keyed_platform.url)
    monkeypatch.setenv(API_KEY_ENV, keyed_platform.key())

    job = Client().submit("PrimeChecker", {"number": 561}, wait=30)

    assert (job.status, job.result["factors"]) == ("completed", [3, 11, 17])
    assert job.completed_at >= job.started_at >= job.created_at


def test_invoke_returns_the_result_and_how_it_ran(client) -> None:
    invocation = client.invoke("PrimeChecker", number=97)

    assert invocation.result["is_prime"] is True
    assert invocation.metadata["algorithm"] == "PrimeChecker"
    assert invocation.request_id
    with pytest.raises(AlgorithmError) as raised:
        client.invoke("Failing", n=1)
    assert "number must be positive" in raised.value.message and raised.value.request_id


def test_wait_shows_the_status_at_once_then_is_one_long_poll_when_the_server_holds_it(client) -> None:
    job = client.submit("Sleeping", {"seconds": 1})
    assert job.status == "pending" and client.get(job.job_id).status in ("pending", "running")
    heard: list[str] = []

    done = client.wait(job.job_id, timeout=30, on_progress=lambda job, _: heard.append(job.status))

    assert (done.status, done.result) == ("completed", {"slept": 1.0})
    assert heard[0] in ("pending", "running") and heard[1:] == ["completed"]


def test_wait_polls_with_backoff_when_the_server_answers_at_once(keyed_platform, proxy) -> None:
    proxy.strip_wait = True
    with Client(proxy.url, keyed_platform.key()) as client:
        job = client.submit("Sleeping", {"seconds": 1.5})
        done = client.wait(job.job_id, timeout=30)

    assert done.status == "completed"
    polls = proxy.requests_to("GET", f"/jobs/{job.job_id}")
    gaps = [b.at - a.at for a, b in itertools.pairwise(polls)]
    assert len(polls) >= 4 and gaps[-1] > 2 * gaps[0], gaps


def test_waits_end_when_their_time_is_up(client) -> None:
    job = client.submit("Sleeping", {"seconds": 30}, wait=0.5)  # not finished: the job as it is
    assert job.status in ("pending", "running")

    with pytest.raises(WaitTimeout) as raised:
        client.wait(job.job_id, timeout=0.5)

    assert raised.value.job.job_id == job.job_id and raised.value.job.status in ("pending", "running")
    client.cancel(job.job_id)


def test_cancel_stops_a_running_job_and_refuses_a_finished_one(client) -> None:
    job = client.submit("Sleeping", {"seconds": 60})
    wait_until(lambda: client.get(job.job_id).status == "running", timeout=15, message="the job to start")

    asked = client.cancel(job.job_id)

    assert asked.cancel_requested
    assert client.wait(job.job_id, timeout=15).status == "cancelled"
    with pytest.raises(JobAlreadyFinished):
        client.cancel(job.job_id)


def test_list_walks_every_page_newest_first_with_filters(client) -> None:
    submitted = [client.submit("PrimeChecker", {"number": n}) for n in range(10, 15)]
    submitted.append(client.submit("Failing", {"n": 1}))
    for job in submitted:
        client.wait(job.job_id, timeout=30)

    listed = list(client.list(page_size=2))

    assert [job.job_id for job in listed] == [job.job_id for job in reversed(submitted)]
    assert [job.job_id for job in client.list(status="failed")] == [submitted[-1].job_id]
    assert len(list(client.list(algorithm="PrimeChecker", status="completed", page_size=3))) == 5
    assert list(client.list(algorithm="Sleeping")) == []


def test_algorithms_describe_their_params_as_json_schema(client) -> None:
    found = {algorithm.name: algorithm for algorithm in client.algorithms()}

    assert set(found) == set(load_algorithms().names())
    prime = found["PrimeChecker"]
    assert prime.version == load_algorithms().get("PrimeChecker").version
    assert prime.params_schema["properties"]["number"]["type"] == "integer"
    assert "number" in prime.params_schema["required"]
    assert client.invoke("PrimeChecker", **prime.example).result["number"] == prime.example["number"]


def test_errors_are_raised_as_the_classes_of_their_codes(keyed_platform, client) -> None:
    with pytest.raises(JobNotFound) as not_found:
        client.get("ffffffffffff")
    assert not_found.value.status == 404 and not_found.value.request_id

    with pytest.raises(ValidationError) as invalid:
        client.submit("PrimeChecker", {"number": "many"})
    assert list(invalid.value.fields) == ["params.number"]

    with pytest.raises(AlgorithmNotFound) as unknown:
        client.invoke("Nope", number=1)
    assert "PrimeChecker" in unknown.value.available

    with Client(keyed_platform.url, "not-a-key") as stranger, pytest.raises(Unauthorized):
        stranger.algorithms()


def test_a_rate_limited_caller_is_told_when_to_come_back(keyed_platform) -> None:
    with (
        Client(keyed_platform.url, keyed_platform.key(), retry_seconds=0) as client,
        pytest.raises(RateLimited) as raised,
    ):
        for _ in range(keyed_platform.rate_limit + 1):
            client.algorithms()

    assert 0 < raised.value.retry_after <= 60


def test_webhooks_verify_and_redeliver(keyed_platform, client) -> None:
    receiver = WebhookReceiver().start()
    try:
        job = client.submit("PrimeChecker", {"number": 7}, receiver.url(), wait=30)
        [first] = wait_until(lambda: receiver.received, timeout=10, message="the webhook")

        payload = verify_webhook(keyed_platform.webhook_secret, first.body, first.headers)

        assert (payload["job_id"], payload["status"]) == (job.job_id, "completed")
        tampered = first.body.replace(b'"completed"', b'"failed"')
        with pytest.raises(WebhookVerificationError):
            verify_webhook(keyed_platform.webhook_secret, tampered, first.headers)
        stale = {**first.headers, "webhook-timestamp": str(int(time.time()) - 3600)}
        with pytest.raises(WebhookVerificationError):
            verify_webhook(keyed_platform.webhook_secret, first.body, stale)

        client.redeliver_webhook(job.job_id)
        wait_until(lambda: len(receiver.received) == 2, timeout=10, message="the redelivery")
        assert json.loads(receiver.received[1].body)["job_id"] == job.job_id
    finally:
        receiver.stop()


def test_a_submission_whose_answer_is_lost_is_retried_into_one_job(keyed_platform, proxy) -> None:
    proxy.script = [FORWARD_THEN_DROP]
    key = keyed_platform.key()
    with Client(proxy.url, key) as client:
        job = client.submit("PrimeChecker", {"number": 91})

    posts = proxy.requests_to("POST", "/jobs")
    assert [post.act for post in posts] == [FORWARD_THEN_DROP, "forward"]
    assert posts[0].headers["Idempotency-Key"] == posts[1].headers["Idempotency-Key"]
    with Client(keyed_platform.url, key) as direct:
        assert [listed.job_id for listed in direct.list()] == [job.job_id]


def test_busy_and_rate_limited_answers_are_retried_after_retry_after(keyed_platform, proxy) -> None:
    proxy.script = [answer(503, retry_after="1"), answer(429, retry_after="1")]
    key = keyed_platform.key()
    with Client(proxy.url, key) as client:
        job = client.submit("PrimeChecker", {"number": 91})

    posts = proxy.requests_to("POST", "/jobs")
    assert len(posts) == 3
    assert all(b.at - a.at >= 1.0 for a, b in itertools.pairwise(posts)), [p.at for p in posts]
    with Client(keyed_platform.url, key) as direct:
        assert [listed.job_id for listed in direct.list()] == [job.job_id]


def test_an_invalid_submission_is_not_retried(keyed_platform, proxy) -> None:
    with Client(proxy.url, keyed_platform.key()) as client, pytest.raises(ValidationError):
        client.submit("PrimeChecker", {"number": -5})

    assert len(proxy.requests_to("POST", "/jobs")) == 1


def test_an_invocation_whose_answer_is_lost_is_not_run_again(keyed_platform, proxy) -> None:
    proxy.script = [FORWARD_THEN_DROP]
    with Client(proxy.url, keyed_platform.key()) as client, pytest.raises(ConnectionFailed):
        client.invoke("PrimeChecker", number=91)

    assert len(proxy.requests_to("POST", "/invoke")) == 1


def test_list_filters_by_creation_time(client) -> None:
    first = client.submit("PrimeChecker", {"number": 5})
    second = client.submit("PrimeChecker", {"number": 6})

    after_first = [job.job_id for job in client.list(created_after=first.created_at)]
    before_second = [job.job_id for job in client.list(created_before=second.created_at)]

    assert after_first == [second.job_id] and before_second == [first.job_id]
    naive_local = second.created_at.astimezone().replace(tzinfo=None)  # local wall-clock time, as users write it
    assert [job.job_id for job in client.list(created_before=naive_local)] == [first.job_id]


def test_events_follow_a_job_to_its_end_with_its_progress(client) -> None:
    number = 3 * (2**61 - 1) * (2**89 - 1)  # factoring it takes the whole budget, reporting as it goes
    job = client.submit("PrimeChecker", {"number": number, "time_budget": 2})
    events = list(client.events(job.job_id))
    kinds = [event.kind for event in events]
    assert kinds[0] == "status" and kinds[-1] == "end" and "progress" in kinds
    fractions = [event.progress.fraction for event in events if event.progress is not None]
    assert fractions == sorted(fractions) and len(fractions) >= 2
    assert events[-1].data == {"status": "completed"}
    finished = [event.job for event in events if event.job is not None][-1]
    assert finished.status == "completed" and finished.progress is not None
    # Reconnecting from the last event id: nothing new but the end.
    assert [event.kind for event in client.events(job.job_id, last_event_id=events[-1].id)] == ["end"]
