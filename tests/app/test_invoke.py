"""POST /invoke, on / and /v1, in both forms of the body."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from marshmallow import Schema

from algorithms import Algorithm, registry

PREFIXES = ["", "/v1"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_short_form_answers_as_the_reference_shows(client: FlaskClient, prefix: str) -> None:
    response = client.post(f"{prefix}/invoke", json={"number": 17})
    assert response.status_code == 200
    body = response.get_json()
    assert list(body) == ["request_id", "status", "result", "metadata"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert body["status"] == "success"
    assert {k: body["result"][k] for k in ("number", "is_prime", "factors", "algorithm")} == {
        "number": 17,
        "is_prime": True,
        "factors": [],
        "algorithm": "trial_division",
    }
    assert body["metadata"]["algorithm"] == "PrimeChecker"
    assert body["metadata"]["version"] == "1.0.0"
    assert isinstance(body["metadata"]["elapsed_time"], float)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_general_form_names_the_algorithm(client: FlaskClient, prefix: str) -> None:
    response = client.post(f"{prefix}/invoke", json={"algorithm": "PrimeChecker", "params": {"number": 561}})
    assert response.status_code == 200
    assert response.get_json()["result"]["factors"] == [3, 11, 17]


def test_big_numbers_keep_every_digit(client: FlaskClient) -> None:
    n = (2**31 - 1) * (2**61 - 1)
    body = client.post("/invoke", json={"number": n}).get_json()
    assert body["result"]["number"] == n
    assert body["result"]["factors"] == [2**31 - 1, 2**61 - 1]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"number": "abc"}, "number", "number must be an integer"),
        ({"number": True}, "number", "number must be an integer"),
        ({"number": 1.5}, "number", "number must be an integer"),
        ({"number": None}, "number", "number may not be null"),
        ({}, "number", "number is required"),
        ({"number": 0}, "number", "number must be between 1 and 2^1024 - 1"),
        ({"number": -5}, "number", "number must be between 1 and 2^1024 - 1"),
        ({"number": 2**1024}, "number", "number must be between 1 and 2^1024 - 1"),
        ({"algorithm": "PrimeChecker", "params": {"number": "x"}}, "params.number", "params.number must be an integer"),
        ({"algorithm": "PrimeChecker", "params": {}}, "params.number", "params.number is required"),
        ({"algorithm": "PrimeChecker", "params": 5}, "params", "params must be a JSON object"),
        ({"algorithm": "PrimeChecker"}, "params", "params is required"),
        ({"algorithm": 5, "params": {"number": 5}}, "algorithm", "algorithm must be a string"),
    ],
)
def test_bad_params_are_400_validation_errors_naming_the_field(
    client: FlaskClient, body: dict, field: str, message: str
) -> None:
    response = client.post("/invoke", json=body)
    assert response.status_code == 400
    error = response.get_json()
    assert error["error"] == "VALIDATION_ERROR"
    assert error["message"] == message
    assert error["details"]["field"] == field
    assert field in error["details"]["errors"]
    assert error["retryable"] is False


def test_the_offending_value_is_echoed(client: FlaskClient) -> None:
    details = client.post("/invoke", json={"number": "abc"}).get_json()["details"]
    assert details["value"] == "abc"


def test_unknown_algorithm_lists_the_available_ones(client: FlaskClient) -> None:
    response = client.post("/invoke", json={"algorithm": "NonExistent", "params": {}})
    assert response.status_code == 404
    error = response.get_json()
    assert error["error"] == "ALGORITHM_NOT_FOUND"
    assert error["details"]["available_algorithms"] == registry.names()
    assert "PrimeChecker" in registry.names()


class _Exploding(Algorithm):
    name = "Exploding"
    version = "0.0.1"
    example = {}

    class Params(Schema):
        pass

    def run(self, params: dict) -> dict:
        raise ValueError("number must be positive")


class _NotJson(Algorithm):
    name = "NotJson"
    version = "0.0.1"
    example = {}

    class Params(Schema):
        pass

    def run(self, params: dict) -> dict:
        return {"a set": {1, 2}}


@pytest.fixture
def broken_algorithms() -> None:
    registry.register(_Exploding)
    registry.register(_NotJson)
    yield
    registry.unregister("Exploding")
    registry.unregister("NotJson")


@pytest.mark.usefixtures("broken_algorithms")
def test_an_algorithm_exception_is_500_algorithm_error_with_its_message(client: FlaskClient) -> None:
    response = client.post("/invoke", json={"algorithm": "Exploding", "params": {}})
    assert response.status_code == 500
    error = response.get_json()
    assert error["error"] == "ALGORITHM_ERROR"
    assert error["message"] == "ValueError: number must be positive"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.mark.usefixtures("broken_algorithms")
def test_a_result_that_is_not_json_is_an_algorithm_error(client: FlaskClient) -> None:
    response = client.post("/invoke", json={"algorithm": "NotJson", "params": {}})
    assert response.status_code == 500
    assert response.get_json()["error"] == "ALGORITHM_ERROR"


def test_a_factorisation_beyond_the_budget_answers_in_time_with_the_cofactor(client: FlaskClient) -> None:
    p, q = 18446744073709551557, 18446744073709551533
    started = time.monotonic()
    response = client.post("/invoke", json={"number": p * q, "time_budget": 0.2})
    assert time.monotonic() - started < 5  # bounded by the budget, not by the factorisation
    result = response.get_json()["result"]
    assert response.status_code == 200
    assert (result["factorization_complete"], result["cofactor"], result["factors"]) == (False, p * q, [])
