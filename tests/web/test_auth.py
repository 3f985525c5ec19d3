"""API keys: open by default, 401 when keys exist, keys stored as digests, ownership of jobs."""

from __future__ import annotations

import pytest
import redis
from click.testing import CliRunner
from flask.testing import FlaskClient

from app.cli import cli
from app.services.auth import AuthService, digest
from app.storage.api_keys import ApiKeyStore
from app.storage.keys import Keys

JOB = {"algorithm": "PrimeChecker", "params": {"number": 7}}
STATIC_KEYS = ("static-key-one", "static-key-two")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_with_no_key_configured_the_api_is_open(client: FlaskClient) -> None:
    assert client.post("/invoke", json={"number": 7}).status_code == 200
    assert client.post("/jobs", json=JOB).status_code == 202


@pytest.fixture
def keyed(make_client) -> FlaskClient:
    return make_client(api_keys=STATIC_KEYS)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/invoke", "post"),
        ("/jobs", "post"),
        ("/jobs", "get"),
        ("/jobs/a1b2c3d4e5f6", "get"),
        ("/v1/jobs/a1b2c3d4e5f6/cancel", "post"),
    ],
)
@pytest.mark.parametrize(
    "headers", [{}, _bearer("wrong"), {"Authorization": "Basic c3RhdGljOmtleQ=="}, {"Authorization": "Bearer "}]
)
def test_without_a_valid_key_every_api_endpoint_answers_401(
    keyed: FlaskClient, path: str, method: str, headers: dict
) -> None:
    response = getattr(keyed, method)(path, json={"number": 7}, headers=headers)
    assert response.status_code == 401
    body = response.get_json()
    assert (body["error"], body["retryable"]) == ("UNAUTHORIZED", False)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc", "/v1/healthz"])
def test_probes_metrics_and_docs_need_no_key(keyed: FlaskClient, path: str) -> None:
    assert keyed.get(path).status_code == 200


def test_a_configured_key_is_accepted(keyed: FlaskClient) -> None:
    for key in STATIC_KEYS:
        assert keyed.post("/invoke", json={"number": 7}, headers=_bearer(key)).status_code == 200


def test_a_job_belongs_to_its_key_and_is_invisible_to_others(keyed: FlaskClient) -> None:
    mine, theirs = _bearer(STATIC_KEYS[0]), _bearer(STATIC_KEYS[1])
    job_id = keyed.post("/jobs", json=JOB, headers=mine).get_json()["job_id"]
    assert keyed.get(f"/jobs/{job_id}", headers=mine).status_code == 200
    for method, path in (
        ("get", f"/jobs/{job_id}"),
        ("get", f"/jobs/{job_id}?wait=1"),
        ("post", f"/jobs/{job_id}/cancel"),
        ("post", f"/jobs/{job_id}/webhook/redeliver"),
    ):
        response = getattr(keyed, method)(path, headers=theirs)
        assert response.status_code == 404, path
        assert response.get_json()["error"] == "JOB_NOT_FOUND"
        assert response.get_json()["message"] == f"Job {job_id!r} does not exist or has expired"
    assert [j["job_id"] for j in keyed.get("/jobs", headers=mine).get_json()["jobs"]] == [job_id]
    assert keyed.get("/jobs", headers=theirs).get_json()["jobs"] == []


def test_keys_in_redis_are_stored_as_digests_and_revocable(
    client: FlaskClient, services, redis_client: redis.Redis
) -> None:
    key, record = services.auth.create_key("ci")
    assert key.startswith("fsk_")
    stored = redis_client.hgetall("fs:api-keys")
    assert list(stored) == [digest(key).encode()]
    assert key.encode() not in b"".join(stored.values())
    assert client.post("/jobs", json=JOB, headers=_bearer(key)).status_code == 202
    assert services.auth.revoke(record["id"])


def test_a_revoked_key_stops_working_within_the_cache_time(redis_client: redis.Redis) -> None:
    now = [0.0]
    auth = AuthService(ApiKeyStore(redis_client, Keys("fs")), clock=lambda: now[0])
    other = AuthService(ApiKeyStore(redis_client, Keys("fs")))
    key, record = other.create_key("temp")
    assert auth.authenticate(f"Bearer {key}").id == record["id"]
    other.revoke(record["id"])
    assert auth.authenticate(f"Bearer {key}").id == record["id"]  # still cached
    now[0] += 5.1
    with pytest.raises(Exception, match="Invalid API key"):
        auth.authenticate(f"Bearer {key}")
    with pytest.raises(Exception, match="Missing API key"):  # revoking the last key does not open the API
        auth.authenticate(None)
    assert other.open_api()
    now[0] += 5.1
    assert auth.authenticate(None).id == "_"


def test_the_cli_creates_lists_and_revokes_keys(redis_server, redis_client: redis.Redis) -> None:
    runner = CliRunner()
    env = {"REDIS_URL": redis_server.url}
    created = runner.invoke(cli, ["keys", "create", "--name", "reporting"], env=env)
    assert created.exit_code == 0, created.output
    key_id, _ = created.output.splitlines()[0].split(maxsplit=1)
    key = created.output.splitlines()[1]
    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert key_id in listed.output and "reporting" in listed.output and key not in listed.output
    assert runner.invoke(cli, ["keys", "revoke", key_id], env=env).exit_code == 0
    again = runner.invoke(cli, ["keys", "revoke", key_id], env=env)
    assert again.exit_code == 1 and "no key" in again.output
    assert redis_client.hlen("fs:api-keys") == 0
    assert runner.invoke(cli, ["keys", "open-api"], env=env).exit_code == 0
    assert not redis_client.exists("fs:api-keys:required")


def test_when_redis_cannot_say_whether_keys_are_required_the_api_stays_closed(make_app) -> None:
    from app.infra.config import Config
    from app.infra.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis().start()
    client = make_app(Config(redis_url=server.url)).test_client()
    server.close()
    response = client.post("/invoke", json={"number": 7})
    assert (response.status_code, response.get_json()["error"]) == (503, "SERVICE_UNAVAILABLE")
