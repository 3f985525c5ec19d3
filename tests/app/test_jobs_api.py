"""POST /jobs and GET /jobs/{id}: the record, its representation, TTL, and validation before queueing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import redis
from flask.testing import FlaskClient

from algorithms import registry
from app.domain.models import JobStatus
from app.wiring import Services

PREFIXES = ["", "/v1"]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def _queued_messages(redis_client: redis.Redis) -> int:
    return redis_client.zcard("fs:queue:jobs:ready")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_answers_202_with_the_reference_fields_and_a_location(
    client: FlaskClient, redis_client: redis.Redis, prefix: str
) -> None:
    response = client.post(f"{prefix}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17}})
    assert response.status_code == 202
    body = response.get_json()
    assert list(body) == ["job_id", "status", "message", "created_at"]
    assert re.fullmatch(r"[0-9a-f]{12}", body["job_id"])
    assert body["status"] == "pending"
    assert ISO_UTC.match(body["created_at"])
    assert response.headers["Location"] == f"{prefix}/jobs/{body['job_id']}"
    assert _queued_messages(redis_client) == 1


@pytest.mark.parametrize("prefix", PREFIXES)
def test_a_new_job_reads_back_pending_with_every_field(client: FlaskClient, prefix: str) -> None:
    created = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17}}).get_json()
    response = client.get(f"{prefix}/jobs/{created['job_id']}")
    assert response.status_code == 200
    job = response.get_json()
    for field in (
        "job_id",
        "status",
        "algorithm",
        "created_at",
        "started_at",
        "completed_at",
        "result",
        "error",
        "metadata",
        "expires_at",
        "attempts",
        "params",
    ):
        assert field in job
    assert (job["status"], job["algorithm"], job["params"], job["attempts"]) == (
        "pending",
        "PrimeChecker",
        {"number": 17},
        0,
    )
    assert (job["started_at"], job["completed_at"], job["result"], job["error"], job["metadata"]) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert job["created_at"] == created["created_at"]
    expires = datetime.fromisoformat(job["expires_at"]) - datetime.fromisoformat(job["created_at"])
    assert expires == timedelta(days=7)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"params": {"number": 17}}, "algorithm"),
        ({"algorithm": "PrimeChecker"}, "params"),
        ({"algorithm": "PrimeChecker", "params": {"number": "17"}}, "params.number"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": "ftp://example.com/x"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": "not a url"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": "http://"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": 5}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": "http://example.com/\ud800"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": "http://example.com/a\u0000b"}, "webhook"),
        ({"algorithm": "PrimeChecker", "params": {"number": 17}, "webhok": "http://x.io"}, "webhok"),
    ],
)
def test_invalid_submissions_are_refused_before_anything_is_queued(
    client: FlaskClient, redis_client: redis.Redis, body: dict, field: str
) -> None:
    response = client.post("/jobs", json=body)
    assert response.status_code == 400
    assert response.get_json()["details"]["field"] == field
    assert _queued_messages(redis_client) == 0
    assert redis_client.keys("fs:job:*") == []


def test_unknown_algorithm_is_404_and_nothing_is_stored(client: FlaskClient, redis_client: redis.Redis) -> None:
    response = client.post("/jobs", json={"algorithm": "NonExistent", "params": {}})
    assert response.status_code == 404
    assert response.get_json()["details"] == {"available_algorithms": registry.names()}
    assert "PrimeChecker" in registry.names()
    assert redis_client.keys("fs:job:*") == []


def test_private_webhook_addresses_are_refused_unless_allowed(client: FlaskClient, services: Services) -> None:
    services.webhooks.allow_private_networks = False
    for url in (
        "http://127.0.0.1/x",
        "http://localhost:8000/x",
        "http://10.0.0.1/x",
        "http://[::1]/x",
        "http://169.254.169.254/latest",
    ):
        response = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": url})
        assert response.status_code == 400, url
        assert response.get_json()["details"]["field"] == "webhook"


@pytest.mark.parametrize("job_id", ["ffffffffffff", "zzz", "A1B2C3D4E5F6", "a1b2c3d4e5f6a"])
def test_unknown_or_malformed_ids_are_job_not_found(client: FlaskClient, job_id: str) -> None:
    response = client.get(f"/jobs/{job_id}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "JOB_NOT_FOUND"


def test_an_expired_job_is_job_not_found(client: FlaskClient, redis_client: redis.Redis) -> None:
    job_id = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}).get_json()["job_id"]
    redis_client.delete(f"fs:job:{job_id}")  # what the TTL does when it runs out
    assert client.get(f"/jobs/{job_id}").status_code == 404


def test_a_colliding_id_draws_another_instead_of_overwriting(services: Services, client: FlaskClient) -> None:
    ids = iter(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    services.jobs._new_id = lambda: next(ids)
    first = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}).get_json()
    second = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 11}}).get_json()
    assert (first["job_id"], second["job_id"]) == ("aaaaaaaaaaaa", "bbbbbbbbbbbb")
    assert client.get("/jobs/aaaaaaaaaaaa").get_json()["params"] == {"number": 7}


def test_ttl_is_configurable(redis_client: redis.Redis, make_client) -> None:
    client = make_client(job_ttl_seconds=120)
    response = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}})
    job_id = response.get_json()["job_id"]
    assert 115 <= redis_client.ttl(f"fs:job:{job_id}") <= 120
    job = client.get(f"/jobs/{job_id}").get_json()
    expires = datetime.fromisoformat(job["expires_at"]) - datetime.fromisoformat(job["created_at"])
    assert expires == timedelta(seconds=120)


def test_statuses_are_the_reference_ones_plus_scheduled_and_cancelled() -> None:
    assert [s.value for s in JobStatus] == ["scheduled", "pending", "running", "completed", "failed", "cancelled"]


def test_even_with_private_networks_allowed_a_webhook_host_must_resolve(client: FlaskClient) -> None:
    """WEBHOOK_ALLOW_PRIVATE_NETWORKS (the tests' config) lifts the address rule only."""
    body = {"algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": "http://no-such-host.invalid/h"}
    response = client.post("/jobs", json=body)
    assert response.status_code == 400
    assert response.get_json()["details"]["field"] == "webhook"
    assert "resolve" in response.get_json()["message"]
    assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS" not in response.get_json()["message"]


@pytest.mark.parametrize("url", ["http://example.com/café", "http://bücher.example/x"])
def test_webhook_urls_must_be_ascii(client: FlaskClient, url: str) -> None:
    response = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": url})
    assert response.status_code == 400
    assert "xn--" in response.get_json()["message"]
