"""Rate limits per key (per address when open), with their headers, shared through Redis."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis

KEYS = ("key-a", "key-b")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def limited(make_client) -> FlaskClient:
    return make_client(rate_limit="3/minute", api_keys=KEYS)


def test_responses_carry_the_limit_headers_then_429_over_the_limit(limited: FlaskClient) -> None:
    for remaining in (2, 1, 0):
        response = limited.post("/invoke", json={"number": 7}, headers=_bearer(KEYS[0]))
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert int(response.headers["X-RateLimit-Reset"]) > 0
        assert "Retry-After" not in response.headers
    over = limited.post("/invoke", json={"number": 7}, headers=_bearer(KEYS[0]))
    assert over.status_code == 429
    body = over.get_json()
    assert (body["error"], body["retryable"]) == ("RATE_LIMIT_EXCEEDED", True)
    assert 0 < int(over.headers["Retry-After"]) <= 60
    assert over.headers["X-RateLimit-Remaining"] == "0"


def test_each_key_has_its_own_budget(limited: FlaskClient) -> None:
    for _ in range(3):
        limited.get("/jobs", headers=_bearer(KEYS[0]))
    assert limited.get("/jobs", headers=_bearer(KEYS[0])).status_code == 429
    assert limited.get("/jobs", headers=_bearer(KEYS[1])).status_code == 200


def test_probes_metrics_and_docs_are_not_limited(limited: FlaskClient) -> None:
    for _ in range(6):
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
            assert limited.get(path).status_code == 200


def test_bad_keys_are_limited_by_address(limited: FlaskClient) -> None:
    statuses = [limited.get("/jobs", headers=_bearer("guess")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_an_open_api_limits_by_client_address(make_client) -> None:
    client = make_client(rate_limit="2/minute")
    for _ in range(2):
        assert client.get("/jobs", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    assert client.get("/jobs", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 429
    assert client.get("/jobs", environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code == 200


def test_the_limit_is_shared_by_every_web_process(make_client) -> None:
    first, second = make_client(rate_limit="3/minute"), make_client(rate_limit="3/minute")
    statuses = [client.get("/jobs").status_code for client in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]


def test_with_redis_down_requests_are_let_through(make_app) -> None:
    server = EmbeddedRedis().start()
    app = make_app(Config(redis_url=server.url, rate_limit="1/minute"))
    client = app.test_client()
    assert client.post("/invoke", json={"number": 7}).status_code == 200
    server.close()
    assert [client.post("/invoke", json={"number": 7}).status_code for _ in range(3)] == [200, 200, 200]


def test_one_budget_covers_every_endpoint(limited: FlaskClient) -> None:
    key = _bearer(KEYS[0])
    assert limited.get("/jobs", headers=key).status_code == 200
    assert limited.post("/invoke", json={"number": 7}, headers=key).status_code == 200
    assert limited.get("/jobs/ffffffffffff", headers=key).status_code == 404
    assert limited.get("/jobs", headers=key).status_code == 429
