"""/metrics: the reference's families, names and labels."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

REFERENCE_FAMILIES = {
    "http_requests_total": ("counter", {"method", "endpoint", "status"}),
    "http_request_duration_seconds": ("histogram", {"method", "endpoint"}),
    "http_requests_in_progress": ("gauge", set()),
    "algorithm_executions_total": ("counter", {"algorithm", "status"}),
    "algorithm_execution_duration_seconds": ("histogram", {"algorithm"}),
    "jobs_created_total": ("counter", {"algorithm"}),
    "jobs_completed_total": ("counter", {"algorithm", "status"}),
    "job_execution_duration_seconds": ("histogram", {"algorithm"}),
    "webhook_deliveries_total": ("counter", {"status"}),
}


def _scrape(client: FlaskClient) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}


def _value(families: dict, name: str, sample: str, **labels: str) -> float:
    family_name = name.removesuffix("_total") if families.get(name.removesuffix("_total")) else name
    for s in families[family_name].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def test_families_have_the_reference_names_types_and_labels(client: FlaskClient) -> None:
    client.post("/invoke", json={"number": 17})
    client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17}})
    families = _scrape(client)
    for name, (kind, labels) in REFERENCE_FAMILIES.items():
        family = families.get(name.removesuffix("_total")) or families[name]
        assert family.type == kind, name
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)


def test_requests_and_invocations_are_counted(client: FlaskClient) -> None:
    before = _scrape(client)
    client.post("/invoke", json={"number": 17})
    client.post("/v1/invoke", json={"number": 4})
    client.post("/invoke", json={"number": "x"})
    client.get("/no/such/path")
    after = _scrape(client)

    def delta(name: str, sample: str, **labels: str) -> float:
        return _value(after, name, sample, **labels) - _value(before, name, sample, **labels)

    assert delta("http_requests_total", "http_requests_total", endpoint="/invoke", method="POST", status="success") == 2
    assert delta("http_requests_total", "http_requests_total", endpoint="/invoke", method="POST", status="error") == 1
    assert (
        delta("http_requests_total", "http_requests_total", endpoint="<unmatched>", method="GET", status="error") == 1
    )
    assert (
        delta("algorithm_executions_total", "algorithm_executions_total", algorithm="PrimeChecker", status="success")
        == 2
    )


def test_job_creation_is_counted(client: FlaskClient) -> None:
    client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17}})
    client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 19}})
    families = _scrape(client)
    assert _value(families, "jobs_created_total", "jobs_created_total", algorithm="PrimeChecker") == 2


def test_unknown_methods_share_one_label_value(client: FlaskClient) -> None:
    """Clients must not be able to create label values (and series) at will."""
    before = _value(_scrape(client), "http_requests_total", "http_requests_total", method="OTHER")
    for method in ("BREW", "WHEN", "PROPFIND"):
        client.open("/jobs", method=method)
    families = _scrape(client)
    assert _value(families, "http_requests_total", "http_requests_total", method="OTHER") == before + 3
    assert not any(s.labels.get("method") == "BREW" for s in families["http_requests"].samples)
