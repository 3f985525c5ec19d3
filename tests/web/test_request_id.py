"""X-Request-ID on every response."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("path", ["/healthz", "/nothing", "/openapi.json", "/metrics"])
def test_every_response_has_a_fresh_request_id(client: FlaskClient, path: str) -> None:
    first, second = client.get(path), client.get(path)
    uuid.UUID(first.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


def test_a_clients_request_id_is_echoed_and_used(client: FlaskClient) -> None:
    response = client.post("/invoke", json={"number": 17}, headers={"X-Request-ID": "client-42"})
    assert response.headers["X-Request-ID"] == "client-42"
    assert response.get_json()["request_id"] == "client-42"
    error = client.post("/invoke", json={}, headers={"X-Request-ID": "client-43"})
    assert error.get_json()["request_id"] == "client-43"


def test_a_job_remembers_the_request_that_created_it(client: FlaskClient, services) -> None:
    job_id = client.post(
        "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}, headers={"X-Request-ID": "trace-7"}
    ).get_json()["job_id"]
    assert services.jobs.get_job(job_id, "_").request_id == "trace-7"


@pytest.mark.parametrize("bad", ["x" * 200, "has space", "semi;colon"])
def test_malformed_request_ids_are_replaced(client: FlaskClient, bad: str) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    uuid.UUID(response.headers["X-Request-ID"])
