"""Fixtures of the client's own tests: the platform they run against, given by whoever runs them.

``FUNCTIONALSCAFFOLD_TEST_URL`` (a running platform with the test algorithms), ``..._TEST_KEYS``
(API keys, comma-separated: each test takes its own, so rate limits do not leak between tests) and
``..._TEST_WEBHOOK_SECRET``. Without them the platform tests are skipped; the server's
tests/e2e/test_client.py starts a platform and runs this suite in a venv holding only the client.

Each platform test runs twice: with ``Client``, and with ``AsyncClient`` driven from an event loop
in another thread, so the same assertions hold for both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
import pytest
from functionalscaffold_client import AsyncClient, Client


@dataclass
class TestPlatform:
    url: str
    keys: Iterator[str]
    webhook_secret: str

    def key(self) -> str:
        try:
            return next(self.keys)
        except StopIteration:
            pytest.fail("out of test API keys: give more in FUNCTIONALSCAFFOLD_TEST_KEYS")


@pytest.fixture(scope="session")
def platform() -> TestPlatform:
    url = os.environ.get("FUNCTIONALSCAFFOLD_TEST_URL")
    if not url:
        pytest.skip("no platform to test against (FUNCTIONALSCAFFOLD_TEST_URL)")
    keys = os.environ.get("FUNCTIONALSCAFFOLD_TEST_KEYS", "").split(",")
    return TestPlatform(url, iter(keys), os.environ.get("FUNCTIONALSCAFFOLD_TEST_WEBHOOK_SECRET", ""))


class Blocking:
    """An ``AsyncClient`` seen through blocking calls: each coroutine runs on the portal's event
    loop; ``list`` and ``events`` (async iterators) are collected into lists."""

    def __init__(self, client: AsyncClient, portal: anyio.from_thread.BlockingPortal) -> None:
        self._client, self._portal = client, portal

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if name in ("list", "events"):

            async def collect(*args: Any, **kwargs: Any) -> list[Any]:
                return [item async for item in method(*args, **kwargs)]

            return lambda *args, **kwargs: self._portal.call(lambda: collect(*args, **kwargs))
        if not callable(method):
            return method
        return lambda *args, **kwargs: self._portal.call(lambda: method(*args, **kwargs))


@pytest.fixture(params=["sync", "async"])
def connect(request: pytest.FixtureRequest) -> Iterator[Any]:
    """``connect(url, key, **options)``: a ``Client``, or a ``Blocking`` ``AsyncClient``; closed after."""
    opened: list[Any] = []
    with anyio.from_thread.start_blocking_portal() as portal:

        def make(url: Any, key: str | None, **options: Any) -> Any:
            if request.param == "sync":
                client: Any = Client(url, key, **options)
                opened.append(client.close)
                return client
            async_client = portal.call(lambda: _make_async(url, key, options))
            opened.append(lambda: portal.call(async_client.close))
            return Blocking(async_client, portal)

        yield make
        for close in opened:
            close()


async def _make_async(url: Any, key: str | None, options: dict[str, Any]) -> AsyncClient:
    return AsyncClient(url, key, **options)  # made on the loop that will use it


@pytest.fixture
def client(platform: TestPlatform, connect: Any) -> Any:
    return connect(platform.url, platform.key())
