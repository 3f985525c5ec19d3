"""/openapi.json, /docs and /redoc: generated from the schemas, served with no other host."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

REFERENCE_PATHS = ["/invoke", "/jobs", "/jobs/{job_id}", "/healthz", "/readyz", "/metrics"]
ADDED_PATHS = [
    "/jobs/{job_id}/webhook/redeliver",
    "/jobs/{job_id}/cancel",
    "/algorithms",
    "/batches",
    "/batches/{batch_id}",
    "/batches/{batch_id}/cancel",
    "/jobs/{job_id}/retry",
    "/workers",
    "/queues",
    "/jobs/{job_id}/events",
]


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_the_spec_documents_every_endpoint_of_the_reference(client: FlaskClient, prefix: str) -> None:
    spec = client.get(f"{prefix}/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert sorted(spec["paths"]) == sorted(REFERENCE_PATHS + ADDED_PATHS)
    assert {s["url"] for s in spec["servers"]} == {"/", "/v1"}
    job = spec["components"]["schemas"]["Job"]["properties"]
    assert {"job_id", "status", "result", "error", "expires_at", "attempts"} <= set(job)
    assert "number" in spec["components"]["schemas"]["PrimeCheckerParams"]["properties"]


def test_validation_errors_are_documented_as_400_with_the_error_body(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    responses = spec["paths"]["/jobs"]["post"]["responses"]
    assert "422" not in responses
    assert responses["400"]["$ref"] == "#/components/responses/BAD_REQUEST"
    error = spec["components"]["schemas"]["Error"]["properties"]
    assert set(error) == {"error", "message", "details", "request_id", "retryable"}


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/v1/docs", "/v1/redoc"])
def test_docs_pages_load_only_assets_of_this_server(client: FlaskClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    references = re.findall(r'(?:src|href)="([^"]+)"', html) + re.findall(r'(?:url|spec-url)[:=]\s*"([^"]+)"', html)
    assert references, html
    base = page.rsplit("/", 1)[0] + "/"
    for reference in references:
        assert "//" not in reference, f"{page} loads {reference} from another host"
        url = reference if reference.startswith("/") else base + reference
        with client.get(url) as asset:
            assert asset.status_code == 200, url
            assert len(asset.data) > 100


def test_swagger_ui_does_not_call_the_online_validator(client: FlaskClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").get_data(as_text=True)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_forbid_the_browser_any_other_host(client: FlaskClient, page: str) -> None:
    # ReDoc's sidebar links a logo from cdn.redoc.ly; this policy keeps the browser from fetching it.
    policy = client.get(page).headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "img-src 'self' data:" in policy
    assert "https:" not in policy and "*" not in policy


def test_the_spec_documents_keys_headers_and_the_new_codes(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key: Authorization: Bearer <key>",
    }
    assert spec["security"] == [{}, {"apiKey": []}]  # optional: no key is configured (see test_openapi.py)
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    post = spec["paths"]["/jobs"]["post"]
    assert {p["name"] for p in post["parameters"] if p["in"] == "header"} == {"Idempotency-Key", "Prefer"}
    assert {"200", "202", "401", "409", "429"} <= set(post["responses"])
    listing = spec["paths"]["/jobs"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"limit", "cursor", "status", "algorithm", "created_after"}
    codes = spec["components"]["schemas"]["Error"]["properties"]["error"]["description"]
    for code in ("UNAUTHORIZED", "RATE_LIMIT_EXCEEDED", "IDEMPOTENCY_KEY_REUSED", "JOB_ALREADY_FINISHED"):
        assert code in codes
    assert "cancelled" in spec["components"]["schemas"]["Job"]["properties"]["status"]["enum"]


@pytest.mark.parametrize(("root", "docs"), [("/", "/docs"), ("/v1/", "/v1/docs"), ("/v1", "/v1/docs")])
def test_the_root_leads_a_browser_to_the_docs(client: FlaskClient, root: str, docs: str) -> None:
    # Given a browser opening the API's address, when it asks for the root
    response = client.get(root)

    # Then it is redirected to Swagger UI, under the same version prefix, which loads
    assert response.status_code == 302
    assert response.headers["Location"] == docs
    assert client.get(response.headers["Location"]).status_code == 200


def test_the_root_redirect_needs_no_key_and_is_not_in_the_spec(make_client) -> None:
    client = make_client(api_keys=("secret-key",))

    assert client.get("/").status_code == 302
    assert "/" not in client.get("/openapi.json").get_json()["paths"]
