"""GET /jobs: the caller's jobs, newest first, page by page, filtered."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient

from app.domain.models import JobStatus
from app.services.messages import JOBS_QUEUE
from app.services.running import JobOutcome
from app.storage.queue import Receipt
from app.wiring import Services


def _create(
    services: Services,
    count: int,
    algorithm: str = "PrimeChecker",
    owner: str = "_",
    clock_start: float = 1_800_000_000.0,
) -> list[str]:
    """``count`` jobs, one millisecond apart, oldest first."""
    ids = []
    for i in range(count):
        services.jobs._clock = lambda i=i: clock_start + i / 1000
        params = {"number": 7} if algorithm == "PrimeChecker" else {"seconds": 0}
        job, _ = services.jobs.create_job(algorithm, params, owner)
        ids.append(job.job_id)
    return ids


def _all_pages(client: FlaskClient, query: str = "", limit: int = 100) -> list[str]:
    seen, cursor = [], None
    while True:
        url = f"/jobs?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).get_json()
        seen += [job["job_id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        assert len(page["jobs"]) == limit


def test_a_thousand_jobs_page_by_page_without_gaps_or_repeats(client: FlaskClient, services: Services) -> None:
    ids = _create(services, 1000)
    assert _all_pages(client, limit=100) == list(reversed(ids))
    assert _all_pages(client, limit=7) == list(reversed(ids))


def test_jobs_created_in_the_same_millisecond_are_neither_lost_nor_repeated(
    client: FlaskClient, services: Services
) -> None:
    services.jobs._clock = lambda: 1_800_000_000.0
    ids = {services.jobs.create_job("PrimeChecker", {"number": 7}, "_")[0].job_id for _ in range(25)}
    listed = _all_pages(client, limit=4)
    assert len(listed) == 25 and set(listed) == ids


def test_each_page_shows_the_full_job(client: FlaskClient, services: Services) -> None:
    [job_id] = _create(services, 1)
    page = client.get("/jobs").get_json()
    assert page["next_cursor"] is None
    assert page["jobs"] == [client.get(f"/jobs/{job_id}").get_json()]


def _finish(services: Services, job_id: str, status: JobStatus) -> None:
    job = services.runs.start_job(job_id)
    outcome = JobOutcome(status, result={} if status is JobStatus.COMPLETED else None)
    services.runs.finish_job(job, outcome, Receipt(JOBS_QUEUE, job_id, 0))


def test_filters_by_status_algorithm_and_creation_time(client: FlaskClient, services: Services) -> None:
    primes = _create(services, 6)
    sleeps = _create(services, 4, algorithm="Sleeping", clock_start=1_800_000_100.0)
    for job_id in primes[:3]:
        _finish(services, job_id, JobStatus.COMPLETED)
    _finish(services, primes[3], JobStatus.FAILED)
    services.jobs.cancel_job(sleeps[0], "_")

    def listed(query: str) -> list[str]:
        return [job["job_id"] for job in client.get(f"/jobs?{query}").get_json()["jobs"]]

    assert listed("status=completed") == list(reversed(primes[:3]))
    assert listed("status=failed") == [primes[3]]
    assert listed("status=cancelled") == [sleeps[0]]
    assert listed("status=pending") == list(reversed(primes[4:] + sleeps[1:]))
    assert listed("algorithm=Sleeping") == list(reversed(sleeps))
    assert listed("algorithm=Sleeping&status=pending") == list(reversed(sleeps[1:]))
    after = datetime.fromtimestamp(1_800_000_000.002, timezone.utc).isoformat()
    before = datetime.fromtimestamp(1_800_000_000.005, timezone.utc).isoformat().replace("+00:00", "Z")
    query = urlencode({"created_after": after, "created_before": before, "algorithm": "PrimeChecker"})
    assert listed(query) == [primes[4], primes[3]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=x",
        "status=done",
        "cursor=garbage",
        "created_after=2026-01-01T00:00:00",
        "unknown=1",
    ],
)
def test_bad_queries_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/jobs?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == "VALIDATION_ERROR"


def test_expired_jobs_drop_out_of_the_list(client: FlaskClient, services: Services, redis_client) -> None:
    ids = _create(services, 3)
    redis_client.delete(f"fs:job:{ids[1]}")  # what the TTL does
    assert _all_pages(client, limit=1) == [ids[2], ids[0]]
    assert redis_client.zscore("fs:jobs:_:*:*", ids[1]) is None


def test_filtered_pages_follow_their_cursor(client: FlaskClient, services: Services) -> None:
    primes = _create(services, 30)
    _create(services, 30, algorithm="Sleeping", clock_start=1_800_000_000.0005)  # interleaved in time
    before = datetime.fromtimestamp(1_800_000_000.0255, timezone.utc).isoformat().replace("+00:00", "Z")
    listed = _all_pages(client, "&" + urlencode({"algorithm": "PrimeChecker", "created_before": before}), limit=4)
    assert listed == list(reversed(primes[:26]))


def test_a_listed_job_shows_its_webhook_log_as_get_does(client: FlaskClient, services: Services, redis_client) -> None:
    job_id = client.post(
        "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": "http://127.0.0.1:9/h"}
    ).get_json()["job_id"]
    redis_client.rpush(
        f"fs:job:{job_id}:webhook-log",
        '{"series": 1, "number": 1, "at": 1.0, "duration": 0.1, "status_code": 500, "error": null}',
    )
    [listed] = client.get("/jobs").get_json()["jobs"]
    assert listed["webhook"]["attempts"] == client.get(f"/jobs/{job_id}").get_json()["webhook"]["attempts"]
    assert len(listed["webhook"]["attempts"]) == 1
