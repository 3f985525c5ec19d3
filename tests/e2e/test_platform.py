"""The Procfile's web and worker processes, driven over HTTP like a user would."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from datetime import datetime

import psutil
import pytest
from standardwebhooks import Webhook as StandardWebhook
from support import ProcessGroup, WebhookReceiver, finished_job, metric_value, platform_env, wait_until

from app.infra.config import Config

pytestmark = pytest.mark.slow
HARD_SEMIPRIME = 18446744073709551557 * 18446744073709551533  # two 64-bit primes
#: The lease of a job's message (WORKER_LEASE_SECONDS' default): how long a dead worker's job waits.
LEASE_SECONDS = Config(redis_url="redis://-").worker_lease_seconds


def _finished(platform, job_id: str, timeout: float = 20) -> dict:
    return finished_job(lambda path: platform.get(path).json(), job_id, timeout)


def _metric(platform, sample: str, **labels: str) -> float:
    return metric_value(platform.get("/metrics").text, sample, **labels)


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_every_endpoint_answers_over_http(platform, prefix: str) -> None:
    invoke = platform.post(f"{prefix}/invoke", json={"number": 17})
    assert invoke.status_code == 200 and invoke.json()["result"]["is_prime"] is True
    created = platform.post(f"{prefix}/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 12}})
    assert created.status_code == 202
    assert created.headers["Location"] == f"{prefix}/jobs/{created.json()['job_id']}"
    job = _finished(platform, created.json()["job_id"])
    assert (job["status"], job["result"]["factors"]) == ("completed", [2, 2, 3])
    assert platform.get(f"{prefix}/healthz").json()["status"] == "healthy"
    assert platform.get(f"{prefix}/readyz").json()["checks"] == {"algorithm": True, "redis": True}
    assert "jobs_completed_total" in platform.get(f"{prefix}/metrics").text
    assert platform.get(f"{prefix}/openapi.json").json()["info"]["title"] == "FunctionalScaffold"
    for page in ("docs", "redoc"):
        assert platform.get(f"{prefix}/{page}").status_code == 200
    assert platform.get(f"{prefix}/jobs/ffffffffffff").status_code == 404


def test_http_metrics_add_up_across_gunicorn_workers(platform) -> None:
    labels = {"endpoint": "/healthz", "method": "GET", "status": "success"}
    before = _metric(platform, "http_requests_total", **labels)
    for _ in range(30):
        with platform.get("/healthz", headers={"Connection": "close"}):
            pass
    assert _metric(platform, "http_requests_total", **labels) - before == 30


def test_webhooks_arrive_signed_and_a_failing_receiver_gets_four_attempts_on_schedule(platform) -> None:
    receiver = WebhookReceiver(statuses=[200]).start()
    failing = WebhookReceiver(statuses=[500]).start()
    try:
        ok_id = platform.post(
            "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 17}, "webhook": receiver.url()}
        ).json()["job_id"]
        failing_id = platform.post(
            "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": 19}, "webhook": failing.url()}
        ).json()["job_id"]
        [delivered] = wait_until(lambda: receiver.received, timeout=10, message="the webhook")
        secret = subprocess.run(
            ["functionalscaffold", "webhook-secret"],
            env=platform_env(REDIS_URL=platform.redis.url),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        payload = StandardWebhook(secret).verify(delivered.body, delivered.headers)
        assert (payload["type"], payload["job_id"], payload["status"]) == ("job.completed", ok_id, "completed")

        def settled() -> dict | None:
            webhook = platform.get(f"/jobs/{failing_id}").json()["webhook"]
            return webhook if webhook["state"] == "failed" else None

        webhook = wait_until(settled, timeout=30, interval=0.05, message="4 failed attempts")
        attempts = failing.received
        assert len(attempts) == len(webhook["attempts"]) == 4
        assert len({a.headers["webhook-id"] for a in attempts}) == 1
        gaps = [b.at - a.answered_at for a, b in itertools.pairwise(attempts)]
        for gap, expected in zip(gaps, (1, 5, 15), strict=True):
            assert abs(gap - expected) <= 0.25, gaps
    finally:
        receiver.stop()
        failing.stop()


def _jobs_worker(platform) -> psutil.Process:
    root = psutil.Process(platform.processes.processes["worker"].pid)

    def find() -> psutil.Process | None:
        for process in root.children(recursive=True):
            try:
                command = process.cmdline()
            except psutil.NoSuchProcess:
                continue
            if "--role" in command and "jobs" in command:
                return process
        return None

    return wait_until(find, timeout=10, message="the jobs worker")


def test_a_job_survives_a_sigkilled_worker(platform) -> None:
    victim = _jobs_worker(platform)
    job_id = platform.post(
        "/jobs", json={"algorithm": "PrimeChecker", "params": {"number": HARD_SEMIPRIME, "time_budget": 4}}
    ).json()["job_id"]
    wait_until(
        lambda: platform.get(f"/jobs/{job_id}").json()["status"] == "running", timeout=10, message="the job to start"
    )
    victim.send_signal(signal.SIGKILL)
    killed_at = time.time()

    job = _finished(platform, job_id, timeout=LEASE_SECONDS + 20)
    rerun_after = datetime.fromisoformat(job["started_at"]).timestamp() - killed_at
    print(f"rerun started {rerun_after:.2f} s after the SIGKILL")
    assert rerun_after <= LEASE_SECONDS + 1  # as soon as its lease ran out: no maintenance pass, no other traffic
    assert job["status"] == "completed"
    assert job["attempts"] == 2
    assert job["result"]["cofactor"] == HARD_SEMIPRIME  # the budget ran out, as it should
    replacement = _jobs_worker(platform)
    assert replacement.pid != victim.pid


def test_redis_down_gives_503s_then_the_platform_resumes_by_itself(platform) -> None:
    job = {"algorithm": "PrimeChecker", "params": {"number": 7}}
    job_id = platform.post("/jobs", json=job).json()["job_id"]
    _finished(platform, job_id)

    platform.redis.stop()
    for call in (
        lambda: platform.post("/jobs", json=job),
        lambda: platform.get(f"/jobs/{job_id}"),
        lambda: platform.get("/readyz"),
    ):
        started = time.monotonic()
        response = call()
        assert time.monotonic() - started < 5
        assert response.status_code == 503
        assert response.json()["error"] == "SERVICE_UNAVAILABLE"
    assert platform.get("/healthz").status_code == 200

    platform.redis.start()
    wait_until(lambda: platform.get("/readyz").status_code == 200, timeout=10, message="readiness again")
    created = platform.post("/jobs", json=job)
    assert created.status_code == 202
    assert _finished(platform, created.json()["job_id"], timeout=30)["status"] == "completed"


def test_worker_processes_on_separate_supervisors_share_the_queue(platform, tmp_path) -> None:
    """A second `worker` (as on another machine) takes jobs from the same Redis."""
    first_slots = wait_until(lambda: _metric(platform, "worker_slots"), timeout=20, message="the first worker")
    extra = ProcessGroup()
    env = platform_env(
        REDIS_URL=platform.redis.url, WORKER_PROCESSES="1", WORKER_THREADS="1", WEBHOOK_WORKER_PROCESSES="0"
    )
    extra.start("second-worker", "functionalscaffold worker", env, str(tmp_path))
    try:
        wait_until(
            lambda: "worker ready" in (tmp_path / "second-worker.log").read_text(),
            timeout=20,
            message="the second worker",
        )
        slow = {"algorithm": "PrimeChecker", "params": {"number": HARD_SEMIPRIME, "time_budget": 3}}
        ids = [platform.post("/jobs", json=slow).json()["job_id"] for _ in range(9)]
        # The first worker holds at most 8 (its threads) and runs as many as its slots (algorithm
        # processes) at once: one more running job proves the second one helps.
        wait_until(
            lambda: sum(platform.get(f"/jobs/{i}").json()["status"] == "running" for i in ids) == first_slots + 1,
            timeout=20,
            interval=0.1,
            message=f"{first_slots + 1:g} jobs running at once",
        )
        for job_id in ids:
            assert _finished(platform, job_id)["status"] == "completed"
    finally:
        extra.stop()
