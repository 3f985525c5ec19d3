"""Fixtures of the cluster tests: the platform on several test hosts (``clusters``), and the figures
they measured, printed at the end of the run. Where test hosts cannot be made (no root, no
iproute2), the tests that need them are skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from clusters import Cluster, running_cluster
from hosts import namespaces, unavailable_reason
from support import FIGURES_PROPERTY


@pytest.fixture(scope="session")
def hosts_available() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"test hosts (network namespaces) cannot be made: {reason}")


@pytest.fixture(scope="session")
def cluster(hosts_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as made:
        yield made
        made_namespaces = [host.namespace for host in made.hosts.values()]
    assert not set(made_namespaces) & set(namespaces()), "the cluster's namespaces outlived it"


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str, list[str]], None]:
    """``figures(title, lines)`` keeps a test's measurements for the run's summary (shown even when it
    passes); they travel with the test's report, so that they reach the summary from any test process."""
    return lambda title, lines: request.node.user_properties.append((FIGURES_PROPERTY, (title, lines)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """A failing test that used the cluster shows the end of every host's logs."""
    report = yield
    cluster = item.funcargs.get("cluster") if hasattr(item, "funcargs") else None
    if report.failed and isinstance(cluster, Cluster):
        report.sections.append(("cluster logs", cluster.logs()))
    return report
