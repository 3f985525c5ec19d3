"""/openapi.json tells the truth: who needs a key, each algorithm's params, the form of every value."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.wiring import Services

OPTIONAL_KEY = [{}, {"apiKey": []}]
REQUIRED_KEY = [{"apiKey": []}]


def _spec(client: FlaskClient) -> dict[str, Any]:
    return client.get("/openapi.json").get_json()


def _schema(spec: dict[str, Any], ref: dict[str, str]) -> dict[str, Any]:
    return spec["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def test_an_open_api_documents_the_key_as_optional(client: FlaskClient) -> None:
    # Given no API key configured, the API is open
    assert client.post("/invoke", json={"number": 17}).status_code == 200

    # Then the spec does not require a key (a client may still send one)
    assert _spec(client)["security"] == OPTIONAL_KEY


def test_configured_keys_are_documented_as_required(make_client) -> None:
    client = make_client(api_keys=("secret-key",))

    assert client.post("/invoke", json={"number": 17}).status_code == 401
    assert _spec(client)["security"] == REQUIRED_KEY


def test_a_key_created_while_the_platform_runs_makes_the_spec_require_it(
    client: FlaskClient, services: Services
) -> None:
    services.auth.create_key("reporting")  # what `functionalscaffold keys create` does

    assert client.post("/invoke", json={"number": 17}).status_code == 401
    assert _spec(client)["security"] == REQUIRED_KEY


def test_probes_metrics_and_docs_never_need_a_key(make_client) -> None:
    paths = _spec(make_client(api_keys=("secret-key",)))["paths"]
    for path in ("/healthz", "/readyz", "/metrics"):
        assert paths[path]["get"]["security"] == []


def test_each_algorithm_s_params_are_tied_to_its_name_as_get_algorithms_shows_them(client: FlaskClient) -> None:
    spec = _spec(client)
    listed = {a["name"]: a for a in client.get("/algorithms").get_json()}
    assert "PrimeChecker" in listed and len(listed) > 1  # the test algorithms are loaded too

    for body, suffix in (("JobCreate", "JobCreate"), ("Invocation", "Invocation")):
        choice = spec["components"]["schemas"][body]
        # one variant per algorithm, picked by the value of "algorithm"
        assert choice["discriminator"]["propertyName"] == "algorithm"
        assert set(choice["discriminator"]["mapping"]) == set(listed)
        assert len(choice["oneOf"]) == len(listed)
        for name, ref in choice["discriminator"]["mapping"].items():
            variant = _schema(spec, {"$ref": ref})
            assert ref.endswith(f"/{name}{suffix}")
            assert variant["properties"]["algorithm"]["enum"] == [name]
            assert variant["required"] == ["algorithm", "params"]
            assert variant["additionalProperties"] is False
            params = _schema(spec, variant["properties"]["params"])
            assert params == {**listed[name]["params_schema"], "example": listed[name]["example"]}


def test_the_bodies_of_invoke_and_jobs_refer_to_the_per_algorithm_schemas(client: FlaskClient) -> None:
    spec = _spec(client)
    invoke = spec["paths"]["/invoke"]["post"]["requestBody"]["content"]["application/json"]
    jobs = spec["paths"]["/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert _schema(spec, jobs["schema"]) == spec["components"]["schemas"]["JobCreate"]

    # POST /invoke: the general form, or the short form ({"number": 17}: PrimeChecker's params alone)
    assert _schema(spec, invoke["schema"])["oneOf"] == [
        {"$ref": "#/components/schemas/Invocation"},
        {"$ref": "#/components/schemas/PrimeCheckerParams"},
    ]
    assert invoke["examples"]["short form (PrimeChecker)"]["value"] == {"number": 17}


def test_bounds_are_documented_as_the_server_enforces_them(make_client) -> None:
    client = make_client(job_timeout_max_seconds=120.0)
    schemas = _spec(client)["components"]["schemas"]

    budget = schemas["PrimeCheckerParams"]["properties"]["time_budget"]
    assert (budget["minimum"], budget["exclusiveMinimum"], budget["maximum"]) == (0, True, 60)
    number = schemas["PrimeCheckerParams"]["properties"]["number"]
    assert (number["minimum"], number["maximum"]) == (1, 2**1024 - 1)
    timeout = schemas["PrimeCheckerJobCreate"]["properties"]["timeout"]
    assert (timeout["minimum"], timeout["exclusiveMinimum"], timeout["maximum"]) == (0, True, 120)

    def created(params: dict[str, Any], timeout: float | None = None) -> int:
        body = {"algorithm": "PrimeChecker", "params": params, "timeout": timeout}
        return client.post("/jobs", json=body).status_code

    assert [created({"number": 7, "time_budget": 0}), created({"number": 7, "time_budget": 60})] == [400, 202]
    assert [created({"number": 2**1024 - 1}), created({"number": 2**1024})] == [202, 400]
    assert [created({"number": 7}, timeout=0), created({"number": 7}, 120), created({"number": 7}, 120.5)] == [
        400,
        202,
        400,
    ]


def _parameter(spec: dict[str, Any], path: str, name: str, method: str = "get") -> dict[str, Any]:
    parameters = spec["paths"][path].get("parameters", []) + spec["paths"][path][method].get("parameters", [])
    [parameter] = [p for p in parameters if p["name"] == name]
    return parameter


def test_the_cursor_s_form_is_documented_and_every_cursor_returned_has_it(
    client: FlaskClient, services: Services
) -> None:
    pattern = _parameter(_spec(client), "/jobs", "cursor")["schema"]["pattern"]
    for number in range(5):
        services.jobs.create_job("PrimeChecker", {"number": number + 1}, "_")

    cursor = client.get("/jobs?limit=2").get_json()["next_cursor"]
    assert re.fullmatch(pattern, cursor)
    assert len(client.get(f"/jobs?limit=2&cursor={cursor}").get_json()["jobs"]) == 2


@pytest.mark.parametrize(("cursor", "status"), [("99999999999999_ffffffffffff", 200), ("0_000000000000", 200)])
def test_any_cursor_of_the_documented_form_is_a_position_in_the_list(
    client: FlaskClient, services: Services, cursor: str, status: int
) -> None:
    services.jobs.create_job("PrimeChecker", {"number": 7}, "_")

    page = client.get(f"/jobs?cursor={cursor}")

    assert page.status_code == status
    assert len(page.get_json()["jobs"]) == (1 if cursor.startswith("9") else 0)  # before or after every job


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "WzEuMCwgImExYjJjM2Q0ZTVmNiJd", "1_a1b2c3d4e5f6%0A", "1_A1B2C3D4E5F6", "1234567890123456_a1b2c3d4e5f6"],
)
def test_a_cursor_of_another_form_is_400(client: FlaskClient, cursor: str) -> None:
    response = client.get(f"/jobs?cursor={cursor}")

    assert response.status_code == 400
    assert response.get_json()["details"]["field"] == "cursor"


def test_job_ids_and_idempotency_keys_state_their_form(client: FlaskClient) -> None:
    spec = _spec(client)
    for path, method in (("/jobs/{job_id}", "get"), ("/jobs/{job_id}/cancel", "post")):
        assert _parameter(spec, path, "job_id", method)["schema"]["pattern"] == "^[0-9a-f]{12}$"
    key = _parameter(spec, "/jobs", "Idempotency-Key", "post")["schema"]
    assert (key["minLength"], key["maxLength"]) == (1, 255)
    assert re.fullmatch(key["pattern"], "order 42") and not re.fullmatch(key["pattern"], " order-42")


@pytest.mark.parametrize("query", ["/jobs?limit=%D9%A1", "/jobs?limit=1_0", "/jobs/a1b2c3d4e5f6?wait=%D9%A1"])
def test_numbers_spelled_as_only_python_reads_them_are_400(client: FlaskClient, query: str) -> None:
    # "١" (Arabic-Indic one) and "1_0" are not integers to the spec, though Python's int() reads them
    response = client.get(query)

    assert response.status_code == 400
    assert response.get_json()["error"] == "VALIDATION_ERROR"


def test_a_date_time_may_write_t_and_z_in_lower_case_as_rfc_3339_allows(client: FlaskClient) -> None:
    assert _parameter(_spec(client), "/jobs", "created_after")["schema"]["format"] == "date-time"

    lower, upper = (
        client.get("/jobs?created_after=2026-01-01t00:00:00z"),
        client.get("/jobs?created_after=2026-01-01T00:00:00Z"),
    )

    assert lower.status_code == upper.status_code == 200


def test_the_webhook_is_documented_as_an_http_or_https_url(client: FlaskClient) -> None:
    webhook = _spec(client)["components"]["schemas"]["PrimeCheckerJobCreate"]["properties"]["webhook"]
    assert webhook["format"] == "uri"

    for url, status in (("HTTPS://localhost/hook", 202), ("ftp://localhost/hook", 400)):
        body = {"algorithm": "PrimeChecker", "params": {"number": 7}, "webhook": url}
        assert bool(re.fullmatch(webhook["pattern"], url)) is (status == 202)
        assert client.post("/jobs", json=body).status_code == status
