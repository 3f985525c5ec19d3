"""Fixtures of the browser tests: the Procfile's processes with keys, and Debian's chromium driven by Playwright.

Playwright's own browser builds are never downloaded: the tests launch the system's chromium
(``apt-get install chromium``; ``.ci/run`` installs it), or are skipped, saying why, when there is none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dashboards import (
    ADMIN_KEY,
    ARTIFACTS,
    CLIENT_KEY,
    WORKER_LEASE_SECONDS,
    Dashboard,
    Tab,
    chromium_path,
    open_tab,
)
from platforms import running_platform
from playwright.sync_api import expect, sync_playwright

#: How long an expectation waits for the page (Playwright's default is 5 s): a page's first fetches
#: and render on a 2-core machine running the rest of the suite beside it took longer once in CI.
EXPECT_SECONDS = 20


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    """The Procfile's web and workers on a Redis of their own, keys required: one admin, one client."""
    settings = {
        "API_KEYS": CLIENT_KEY,
        "ADMIN_API_KEYS": ADMIN_KEY,
        "WORKER_LEASE_SECONDS": str(WORKER_LEASE_SECONDS),
    }
    with running_platform(tmp_path_factory.mktemp("dashboard-platform-logs"), **settings) as platform:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield Dashboard(platform)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for a module of tests; each test opens its own context (own session storage).

    Not for the whole session: Playwright's sync API keeps an asyncio loop running in this thread
    while it is open, and the async tests that come after (tests/client) need to start their own.
    """
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium to drive: apt-get install chromium (or set CHROMIUM_PATH)")
    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A desktop-sized tab of its own (no key stored), recording its requests."""
    yield from open_tab(browser)
