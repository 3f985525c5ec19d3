"""The dashboard under test and a browser tab on it, for the browser tests (tests/browser)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from platforms import Platform
from playwright.sync_api import expect

#: The registry drops a silent worker after this many seconds; short, so the kill test is quick.
WORKER_LEASE_SECONDS = 5
ADMIN_KEY = "dashboard-admin-key"
CLIENT_KEY = "dashboard-client-key"
#: Where screenshots go: $BROWSER_ARTIFACTS, else tests/browser/artifacts (ignored by git).
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS") or Path(__file__).resolve().parents[1] / "browser" / "artifacts")


def chromium_path() -> str | None:
    """The system's chromium: $CHROMIUM_PATH, else Debian's /usr/bin/chromium (or whatever is on PATH)."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@dataclass
class Dashboard:
    """The platform under test, and how to reach it as an operator or a client."""

    platform: Platform
    admin_key: str = ADMIN_KEY
    client_key: str = CLIENT_KEY
    artifacts: Path = field(default=ARTIFACTS)

    @property
    def url(self) -> str:
        return self.platform.url

    def api(self, method: str, path: str, key: str = ADMIN_KEY, **kwargs: Any) -> Any:
        """Call the API with ``key``; the JSON answer (raises for an error status)."""
        response = requests.request(
            method, self.url + path, headers={"Authorization": f"Bearer {key}"}, timeout=10, **kwargs
        )
        response.raise_for_status()
        return response.json()

    def submit(self, algorithm: str, params: dict[str, Any], key: str = CLIENT_KEY) -> str:
        """Submit a job as a client would; its id."""
        return self.api("POST", "/jobs", key=key, json={"algorithm": algorithm, "params": params})["job_id"]


@dataclass
class Tab:
    """A page of its own browser context (own sessionStorage), with every request it made and every
    error its console showed (a script error, or something the Content-Security-Policy blocked)."""

    page: Any
    requests: list[str]
    errors: list[str] = field(default_factory=list)


def open_tab(browser: Any, **context_options: Any) -> Iterator[Tab]:
    """A fresh context (``viewport``, ``color_scheme``...) whose page records each request's URL."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 860}, **context_options})
    page = context.new_page()
    tab = Tab(page, [])
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("console", lambda message: message.type == "error" and tab.errors.append(message.text))
    page.on("pageerror", lambda error: tab.errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()


def sign_in(tab: Tab, dashboard: Dashboard, key: str = ADMIN_KEY, fragment: str = "") -> None:
    """Open the dashboard and give ``key`` at its prompt (which it shows since the API needs keys)."""
    tab.page.goto(dashboard.url + "/dashboard" + fragment)
    prompt = tab.page.locator("#gate-key")
    expect(prompt).to_be_visible()
    prompt.fill(key)
    tab.page.get_by_role("button", name="Open the dashboard").click()
