"""/dashboard: our own static page, served without a key (it holds no data), under a strict policy,
outside the API's spec. What it shows is tested in a real browser (tests/browser)."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.routes.dashboard import ASSETS_DIR


def fetch(client: FlaskClient, path: str) -> tuple[int, dict[str, str], str]:
    """Status, headers and text of a GET, the response closed (a file response holds its file open)."""
    with client.get(path) as response:
        return response.status_code, dict(response.headers), response.get_data(as_text=True)


@pytest.mark.parametrize(("path", "page"), [("/dashboard", "/dashboard/"), ("/v1/dashboard", "/v1/dashboard/")])
def test_the_dashboard_loads_without_a_key_under_a_same_origin_policy(make_client, path: str, page: str) -> None:
    # Given an API that requires keys
    client = make_client(api_keys=("client-key",), admin_api_keys=("admin-key",))

    # When a browser opens the dashboard's address, it is led to the page, which loads with no key
    status, headers, _ = fetch(client, path)
    assert status == 302 and headers["Location"] == page
    status, headers, _ = fetch(client, page)
    assert status == 200 and headers["Content-Type"].startswith("text/html")

    # And the page and its assets may use this server only, with no inline script or style
    for asset in [page, page + "app.js", page + "dashboard.css"]:
        policy = fetch(client, asset)[1]["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy and "https:" not in policy and "*" not in policy


def test_the_page_and_scripts_name_no_other_host(client: FlaskClient) -> None:
    # Every asset is ours: nothing is fetched from a CDN or another origin
    names = sorted(path.name for path in ASSETS_DIR.iterdir())
    assert "index.html" in names and "app.js" in names
    for name in names:
        text = (ASSETS_DIR / name).read_text()
        assert fetch(client, f"/dashboard/{name}")[2] == text
        text = text.replace("http://www.w3.org/2000/svg", "")  # SVG's namespace: a name, never fetched
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), name


def test_the_dashboard_is_not_in_the_spec_and_unknown_assets_are_404(client: FlaskClient) -> None:
    assert not [path for path in client.get("/openapi.json").get_json()["paths"] if "dashboard" in path]

    missing = client.get("/dashboard/nothing.js")
    assert missing.status_code == 404 and missing.get_json()["error"] == "NOT_FOUND"
    assert fetch(client, "/dashboard/../factory.py")[0] == 404
