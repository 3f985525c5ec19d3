"""Fixtures: our own redis-server, the app, in-process workers, a webhook receiver."""

from __future__ import annotations

import os
import signal

# Test algorithms (Failing, Sleeping, Stuck) load in this process and in every worker child process;
# the forkserver those come from imports them too, from the environment's path (before Python
# 3.12.8 it ignores the path pytest gives this process).
os.environ.setdefault("ALGORITHM_MODULES", "testing_algorithms")
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [os.path.join(os.path.dirname(__file__), "helpers"), os.environ.get("PYTHONPATH")])
)

# A shell starts a background job (`pytest &`, nohup) with SIGINT ignored, and the processes the
# tests start would inherit that: the tests that press Ctrl-C (SIGINT) on them would see nothing
# happen. Their Python turns SIGINT into KeyboardInterrupt again, as in a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import dataclasses
from collections.abc import Callable, Iterator

import dramatiq
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from support import FIGURES_PROPERTY, WebhookReceiver

from app import create_app
from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.wiring import Services, build_services
from workers.process import start_worker


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A redis-server of our own on a free port, for the whole session."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    """A client of our server, emptied before each test (it is ours: nobody else's data is there)."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def config(redis_client: redis.Redis, redis_server: EmbeddedRedis) -> Config:
    """Defaults, except short delays where tests would otherwise wait for nothing."""
    config = Config(
        redis_url=redis_server.url,
        webhook_allow_private_networks=True,
        webhook_retry_delays=(0.05, 0.1, 0.2),
        worker_lease_seconds=15.0,
        metrics_flush_seconds=0.05,
    )
    config.validate()
    return config


@pytest.fixture
def services(config: Config) -> Iterator[Services]:
    services = build_services(config)
    yield services
    _close(services)


@pytest.fixture
def app(config: Config, services: Services) -> Flask:
    return create_app(config, services)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _close(services: Services) -> None:
    """Stop what a test's services run in the background (metrics flusher, waiters, event listener):
    nothing of one test may reach, or keep retrying, a Redis that is gone with it."""
    services.metrics.close()
    services.waiter.close()
    services.events.close_all()


@pytest.fixture
def make_services() -> Iterator[Callable[[Config], Services]]:
    """Builds services of their own from ``config`` (e.g. on a Redis the test stops); closed afterwards."""
    made: list[Services] = []

    def make(config: Config) -> Services:
        made.append(build_services(config))
        return made[-1]

    yield make
    for services in made:
        _close(services)


@pytest.fixture
def make_app(make_services: Callable[[Config], Services]) -> Callable[[Config], Flask]:
    """Builds an app of its own from ``config``; its services are closed afterwards."""
    return lambda config: create_app(config, make_services(config))


@pytest.fixture
def make_client(config: Config, make_app: Callable[[Config], Flask]) -> Callable[..., FlaskClient]:
    """Builds a client of an app whose config differs from ``config`` by the given fields."""
    return lambda **changes: make_app(dataclasses.replace(config, **changes)).test_client()


@pytest.fixture
def worker(config: Config) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker on our Redis (threads of this process), running jobs."""
    worker = start_worker(config, threads=4)
    yield worker
    worker.stop(timeout=10_000)
    worker.broker.close()


@pytest.fixture
def webhook_worker(config: Config) -> Iterator[dramatiq.Worker]:
    """A real webhook worker on our Redis (threads of this process), delivering webhooks."""
    worker = start_worker(config, threads=8, role="webhooks")
    yield worker
    worker.stop(timeout=10_000)
    worker.broker.close()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


#: Figures the tests measured, from their reports (whichever process ran them): printed at the end.
_figures: list[tuple[str, list[str]]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        _figures.extend(value for name, value in report.user_properties if name == FIGURES_PROPERTY)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _figures:
        terminalreporter.section("figures measured on the test hosts")
        for title, lines in _figures:
            terminalreporter.write_line(title)
            for line in lines:
                terminalreporter.write_line(f"    {line}")
