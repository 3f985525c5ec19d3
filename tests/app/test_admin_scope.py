"""Admin keys see and steer every owner's jobs and batches; client keys only their own."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from app.services.auth import digest

ADMIN, ALICE, BOB = "admin-key-0123456789", "alice-key-0123456789", "bob-key-0123456789"


def _owner(key: str) -> str:
    return f"env-{digest(key)[:12]}"


def _as(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(make_client: Callable[..., FlaskClient]) -> FlaskClient:
    return make_client(api_keys=(ALICE, BOB), admin_api_keys=(ADMIN,))


def _submit(client: FlaskClient, key: str, number: int = 7) -> str:
    answer = client.post("/jobs", json={"algorithm": "PrimeChecker", "params": {"number": number}}, headers=_as(key))
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["job_id"]


def _pages(client: FlaskClient, key: str, query: str = "", limit: int = 3) -> list[str]:
    seen, cursor = [], None
    while True:
        url = f"/jobs?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        answer = client.get(url, headers=_as(key))
        assert answer.status_code == 200, answer.get_json()
        page = answer.get_json()
        seen += [job["job_id"] for job in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_an_admin_lists_every_owners_jobs_newest_first_and_filters_by_owner(keyed: FlaskClient) -> None:
    made = [(_submit(keyed, key), key) for key in (ALICE, BOB, ALICE, ADMIN, BOB, BOB, ALICE)]
    newest_first = [job_id for job_id, _ in reversed(made)]
    assert _pages(keyed, ADMIN) == newest_first
    assert _pages(keyed, ADMIN, limit=100) == newest_first
    assert _pages(keyed, ADMIN, f"&owner={_owner(BOB)}") == [j for j, k in reversed(made) if k == BOB]
    assert _pages(keyed, ADMIN, "&owner=nobody") == []
    # A client sees its own, and may name itself, but nobody else.
    assert _pages(keyed, ALICE) == [j for j, k in reversed(made) if k == ALICE]
    assert _pages(keyed, ALICE, f"&owner={_owner(ALICE)}") == [j for j, k in reversed(made) if k == ALICE]
    refused = keyed.get(f"/jobs?owner={_owner(BOB)}", headers=_as(ALICE))
    assert refused.status_code == 403 and refused.get_json()["error"] == "FORBIDDEN"
    owners = {job["owner"] for job in keyed.get("/jobs?limit=100", headers=_as(ADMIN)).get_json()["jobs"]}
    assert owners == {_owner(ALICE), _owner(BOB), _owner(ADMIN)}


def test_merged_listing_of_jobs_made_in_the_same_millisecond(keyed: FlaskClient) -> None:
    """Ties across owners (same creation time) are ordered by id, with no gap or repeat across pages."""
    jobs = keyed.application.extensions["functionalscaffold"].jobs
    jobs._clock = lambda: 1_800_000_000.0
    made = {jobs.create_job("PrimeChecker", {"number": 7}, owner)[0].job_id for owner in ["a", "b", "c"] * 5}
    listed = _pages(keyed, ADMIN, limit=4)
    assert len(listed) == 15 and set(listed) == made
    assert listed == sorted(made, reverse=True)


def test_an_admin_reads_and_cancels_anyones_job_a_client_does_not(keyed: FlaskClient) -> None:
    job_id = _submit(keyed, ALICE)
    assert keyed.get(f"/jobs/{job_id}", headers=_as(BOB)).status_code == 404
    assert keyed.post(f"/jobs/{job_id}/cancel", headers=_as(BOB)).status_code == 404
    assert keyed.get(f"/jobs/{job_id}", headers=_as(ADMIN)).get_json()["owner"] == _owner(ALICE)
    cancelled = keyed.post(f"/jobs/{job_id}/cancel", headers=_as(ADMIN))
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"


def test_admin_endpoints_refuse_client_keys_and_missing_keys(keyed: FlaskClient) -> None:
    for path in ("/workers", "/queues"):
        assert keyed.get(path).status_code == 401
        refused = keyed.get(path, headers=_as(ALICE))
        assert refused.status_code == 403
        body = refused.get_json()
        assert body["error"] == "FORBIDDEN" and "admin" in body["message"]
        assert keyed.get(path, headers=_as(ADMIN)).status_code == 200


def test_with_no_key_configured_everyone_is_admin(client: FlaskClient) -> None:
    assert client.get("/workers").status_code == 200
    assert client.get("/queues").status_code == 200
    assert client.get("/jobs?owner=_").status_code == 200


def test_an_admin_lists_every_owners_batches(keyed: FlaskClient) -> None:
    def batch(key: str) -> str:
        body = {"jobs": [{"algorithm": "PrimeChecker", "params": {"number": 7}}]}
        answer = keyed.post("/batches", json=body, headers=_as(key))
        assert answer.status_code == 202, answer.get_json()
        return answer.get_json()["batch_id"]

    made = [(batch(key), key) for key in (ALICE, BOB, ALICE)]
    everyone = keyed.get("/batches?limit=2", headers=_as(ADMIN)).get_json()
    assert [b["batch_id"] for b in everyone["batches"]] == [made[2][0], made[1][0]]
    rest = keyed.get(f"/batches?limit=2&cursor={everyone['next_cursor']}", headers=_as(ADMIN)).get_json()
    assert [b["batch_id"] for b in rest["batches"]] == [made[0][0]] and rest["next_cursor"] is None
    alices = keyed.get("/batches", headers=_as(ALICE)).get_json()["batches"]
    assert [b["batch_id"] for b in alices] == [made[2][0], made[0][0]]
    assert keyed.get(f"/batches/{made[1][0]}", headers=_as(ALICE)).status_code == 404
    assert keyed.get(f"/batches/{made[1][0]}", headers=_as(ADMIN)).status_code == 200
