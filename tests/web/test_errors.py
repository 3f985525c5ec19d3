"""Every way a request can be wrong gets a 4xx in the one error body, never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

ERROR_KEYS = ["error", "message", "details", "request_id", "retryable"]


def _assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert list(body) == ERROR_KEYS
    assert body["error"] == code
    assert body["request_id"] == response.headers["X-Request-ID"]
    return body


@pytest.mark.parametrize("path", ["/invoke", "/jobs", "/v1/invoke", "/v1/jobs"])
@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("{bad", "Expecting property name"),
        ("1" * 5000, "integer literal too long"),
        ("[" * 100_000, "nested too deeply"),
        ('{"number": NaN}', "NaN"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_malformed_json_is_a_validation_error(client: FlaskClient, path: str, data: str | bytes, reason: str) -> None:
    body = _assert_error(client.post(path, data=data, content_type="application/json"), 400, "VALIDATION_ERROR")
    assert body["message"] == "Request body is not valid JSON"
    assert reason in body["details"]["reason"]


@pytest.mark.parametrize("payload", ["[1, 2]", "17", '"text"', "null"])
def test_a_body_that_is_not_an_object_is_a_validation_error(client: FlaskClient, payload: str) -> None:
    body = _assert_error(client.post("/jobs", data=payload, content_type="application/json"), 400, "VALIDATION_ERROR")
    assert body["details"]["field"] == "body"


def test_an_empty_body_is_a_validation_error(client: FlaskClient) -> None:
    _assert_error(client.post("/invoke", data="", content_type="application/json"), 400, "VALIDATION_ERROR")


def test_a_form_body_is_415(client: FlaskClient) -> None:
    _assert_error(client.post("/invoke", data={"number": "17"}), 415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_body_over_the_limit_is_413_with_the_limit(client: FlaskClient) -> None:
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    big = '{"number": 1, "pad": "' + "x" * limit + '"}'
    body = _assert_error(client.post("/invoke", data=big, content_type="application/json"), 413, "PAYLOAD_TOO_LARGE")
    assert body["details"]["max_body_bytes"] == limit
    assert str(limit) in body["message"]


@pytest.mark.parametrize("path", ["/nothing", "/v1/nothing", "/v2/invoke", "/jobs/a1b2c3d4e5f6/extra"])
def test_unknown_routes_are_not_found(client: FlaskClient, path: str) -> None:
    _assert_error(client.get(path), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("get", "/invoke", "POST"),
        ("delete", "/jobs", "POST"),
        ("put", "/v1/jobs/a1b2c3d4e5f6", "GET"),
        ("post", "/healthz", "GET"),
    ],
)
def test_wrong_methods_are_405_with_allow(client: FlaskClient, method: str, path: str, allowed: str) -> None:
    response = getattr(client, method)(path)
    body = _assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert allowed in response.headers["Allow"]
    assert allowed in body["details"]["allowed_methods"]


def test_an_unexpected_exception_is_500_internal_error_without_internals(client: FlaskClient, monkeypatch) -> None:
    from app.services.invocation import InvocationService

    def broken(*_args, **_kwargs):
        raise KeyError("secret internal detail")

    monkeypatch.setattr(InvocationService, "invoke", broken)
    response = client.post("/invoke", json={"number": 17})
    body = _assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.get_data(as_text=True)
    assert body["retryable"] is True
