"""Keys, rate limits, cancellation, time limits and waiting, through the Procfile's processes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from platforms import running_platform
from support import finished_job, wait_until

pytestmark = pytest.mark.slow
#: One key per test: each has its own rate-limit budget, so polling in one test never starves another.
KEYS = [f"e2e-key-{n}" for n in range(6)]


def _auth(n: int) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[n]}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    logs = tmp_path_factory.mktemp("production-logs")
    with running_platform(logs, API_KEYS=",".join(KEYS), RATE_LIMIT="300/minute") as platform:
        yield platform


def _finished(api, job_id: str, auth: dict[str, str], timeout: float = 20) -> dict:
    return finished_job(lambda path: api.get(path, headers=auth).json(), job_id, timeout)


def test_keys_are_required_and_jobs_are_private(api) -> None:
    assert api.post("/invoke", json={"number": 7}).status_code == 401
    assert api.get("/healthz").status_code == 200
    job_id = api.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 7}}, headers=_auth(0)).json()[
        "job_id"
    ]
    assert api.get(f"/jobs/{job_id}", headers=_auth(0)).status_code == 200
    assert api.get(f"/jobs/{job_id}", headers=_auth(1)).status_code == 404


def test_the_rate_limit_holds_across_two_gunicorn_workers(api) -> None:
    limit = _auth(2)
    answers = []
    for _ in range(301):
        with api.get("/jobs", headers={**limit, "Connection": "close"}) as response:  # a new connection each
            answers.append(response)
    statuses = [r.status_code for r in answers]
    assert statuses == [200] * 300 + [429], statuses
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:3]] == ["299", "298", "297"]
    assert {r.headers["X-RateLimit-Limit"] for r in answers} == {"300"}
    over = answers[-1]
    assert over.json()["error"] == "RATE_LIMIT_EXCEEDED"
    assert 0 < int(over.headers["Retry-After"]) <= 60


def test_a_running_job_is_cancelled_in_the_worker_process(api) -> None:
    auth = _auth(3)
    job_id = api.post("/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 60}}, headers=auth).json()["job_id"]
    wait_until(lambda: api.get(f"/jobs/{job_id}", headers=auth).json()["status"] == "running", timeout=10)
    assert api.post(f"/jobs/{job_id}/cancel", headers=auth).status_code == 202
    assert _finished(api, job_id, auth, timeout=5)["status"] == "cancelled"


def test_a_job_stuck_in_native_code_times_out(api) -> None:
    auth = _auth(4)
    job_id = api.post(
        "/jobs", json={"algorithm": "Stuck", "params": {"terms": 10**13}, "timeout": 1}, headers=auth
    ).json()["job_id"]
    job = _finished(api, job_id, auth, timeout=10)
    assert (job["status"], job["error"][:7]) == ("failed", "TIMEOUT")


def test_waiting_answers_within_100_ms_of_completion(api) -> None:
    auth = _auth(5)
    job_id = api.post("/jobs", json={"algorithm": "Sleeping", "params": {"seconds": 1}}, headers=auth).json()["job_id"]
    job = api.get(f"/jobs/{job_id}?wait=10", headers=auth).json()
    answered = time.time()
    assert job["status"] == "completed"
    assert answered - datetime.fromisoformat(job["completed_at"]).timestamp() < 0.1
