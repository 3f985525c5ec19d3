"""Fixtures of the end-to-end tests: the Procfile's processes on a Redis of their own."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from platforms import Platform, running_platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("platform-logs")) as platform:
        yield platform


#: Keys of the keyed platform: each test takes its own, so one test's rate-limit budget is its own.
CLIENT_KEYS = [f"client-key-{n}" for n in range(64)]
RATE_LIMIT = 150


@dataclass
class KeyedPlatform:
    platform: Platform
    webhook_secret: str
    keys: Iterator[str]
    rate_limit: int  # requests per minute and key

    @property
    def url(self) -> str:
        return self.platform.url

    def key(self) -> str:
        return next(self.keys)


@pytest.fixture(scope="session")
def keyed_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyedPlatform]:
    """One platform for the client and CLI tests: keys required, a rate limit, a known webhook secret."""
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    settings = {"API_KEYS": ",".join(CLIENT_KEYS), "RATE_LIMIT": f"{RATE_LIMIT}/minute", "WEBHOOK_SECRET": secret}
    with running_platform(tmp_path_factory.mktemp("keyed-platform-logs"), **settings) as platform:
        yield KeyedPlatform(platform, secret, iter(CLIENT_KEYS), RATE_LIMIT)
