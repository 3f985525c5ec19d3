"""Stopping the workers the usual ways, and killing their parts: no job is failed or lost for it.

The Procfile's ``worker`` command runs in a process group of its own, as under systemd, honcho or
Heroku, from a user's project folder. Jobs are created and read through the services, on a Redis
of this module.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from support import ProcessGroup, WebhookReceiver, hostile_folder, platform_env, wait_until

from algorithms import RetryPolicy
from app.domain.models import Job, JobStatus
from app.infra.config import Config
from app.infra.embedded_redis import EmbeddedRedis
from app.services.jobs import JobRequest
from app.wiring import Services, build_services

pytestmark = pytest.mark.slow

#: Seconds a test job runs, in an algorithm process: long enough to be caught running.
RUN_SECONDS = 3.0
#: What the tests give a stopping worker; a job that outlasts it goes back to the queue.
SHUTDOWN_SECONDS = 15.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def services(redis_server: EmbeddedRedis) -> Iterator[Services]:
    redis.Redis.from_url(redis_server.url).flushdb()  # our own server: the previous test's jobs go
    config = Config(redis_url=redis_server.url, webhook_allow_private_networks=True)
    config.validate()
    services = build_services(config)
    yield services
    services.metrics.close()


class Fleet:
    """``functionalscaffold worker`` processes started by a test, and what runs inside them."""

    def __init__(self, redis_url: str, logs: Path) -> None:
        self.group = ProcessGroup()
        self.logs = logs
        self.folder = hostile_folder(logs / "project")
        self.count = 0
        self.redis_url = redis_url

    def start(self, **settings: str) -> psutil.Process:
        self.count += 1
        defaults = {
            "REDIS_URL": self.redis_url,
            "WORKER_PROCESSES": "1",
            "WORKER_THREADS": "2",
            "WEBHOOK_WORKER_PROCESSES": "1",
            "WEBHOOK_WORKER_THREADS": "2",
            "WORKER_SHUTDOWN_TIMEOUT_SECONDS": str(SHUTDOWN_SECONDS),
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
        }
        env = platform_env(**{**defaults, **settings})
        name = f"worker-{self.count}"
        process = self.group.start(name, ["functionalscaffold", "worker"], env, str(self.logs), cwd=self.folder)
        log = self.logs / f"{name}.log"
        wait_until(
            lambda: log.read_text().count("worker ready") >= 2, timeout=60, interval=0.1, message=f"{name} to be ready"
        )
        return psutil.Process(process.pid)

    def log(self) -> str:
        return "".join(p.read_text() for p in sorted(self.logs.glob("worker-*.log")))


@pytest.fixture
def fleet(redis_server: EmbeddedRedis, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(redis_server.url, tmp_path)
    yield fleet
    fleet.group.stop()
    print(fleet.log())  # shown when the test failed


def _worker_processes(supervisor: psutil.Process, role: str) -> list[psutil.Process]:
    found = []
    for child in supervisor.children():
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--role" in command and role in command:
            found.append(child)
    return found


def _job_worker(supervisor: psutil.Process) -> psutil.Process:
    [worker] = wait_until(lambda: _worker_processes(supervisor, "jobs"), timeout=10, message="the job worker")
    return worker


def _submit(services: Services, seconds: float = RUN_SECONDS, **extra: object) -> str:
    job, _ = services.jobs.create_job("Sleeping", {"seconds": seconds}, "_", **extra)
    return job.job_id


def _job(services: Services, job_id: str) -> Job:
    return services.jobs.get_job(job_id, "_")


def _running(services: Services, job_id: str) -> None:
    wait_until(lambda: _job(services, job_id).status is JobStatus.RUNNING, timeout=30, message="the job to run")


def _ended(services: Services, job_id: str, timeout: float) -> Job:
    return wait_until(
        lambda: (job := _job(services, job_id)).status.finished and job, timeout=timeout, message="the job to end"
    )


def _signal_group(leader: psutil.Process, signum: int) -> None:
    os.killpg(leader.pid, signum)


@pytest.mark.parametrize(
    ("target", "signum"),
    [
        ("supervisor", signal.SIGTERM),
        ("group", signal.SIGTERM),
        ("group", signal.SIGINT),
        ("one worker", signal.SIGTERM),
    ],
)
def test_a_running_job_completes_when_the_workers_are_stopped(
    fleet: Fleet, services: Services, target: str, signum: int
) -> None:
    supervisor = fleet.start()
    worker = _job_worker(supervisor)
    job_id = _submit(services)
    _running(services, job_id)

    if target == "supervisor":
        supervisor.send_signal(signum)
    elif target == "group":
        _signal_group(supervisor, signum)
    else:
        worker.send_signal(signum)

    job = _ended(services, job_id, timeout=RUN_SECONDS + 20)
    assert (job.status, job.attempts, job.error) == (JobStatus.COMPLETED, 1, None)
    worker.wait(timeout=10)  # the worker stopped once its job was done
    if target == "one worker":  # replaced by the supervisor
        assert wait_until(lambda: _worker_processes(supervisor, "jobs"), timeout=30, message="a replacement")
    else:
        assert supervisor.wait(timeout=20) == 0
    assert "Traceback" not in fleet.log()


def test_a_second_ctrl_c_puts_the_running_job_back_in_the_queue_at_once(fleet: Fleet, services: Services) -> None:
    supervisor = fleet.start()
    job_id = _submit(services, seconds=60)
    _running(services, job_id)
    _signal_group(supervisor, signal.SIGINT)
    wait_until(lambda: "stopping: no new jobs" in fleet.log(), timeout=10, message="the job worker to start stopping")
    _signal_group(supervisor, signal.SIGINT)
    assert supervisor.wait(timeout=10) == 0
    job = _job(services, job_id)
    assert (job.status, job.attempts, job.error) == (JobStatus.PENDING, 0, None)  # untouched, attempt given back

    fleet.start()
    _running(services, job_id)  # and run again by the next worker
    assert _job(services, job_id).attempts == 1


def test_a_job_that_outlasts_the_shutdown_timeout_goes_back_to_the_queue(fleet: Fleet, services: Services) -> None:
    supervisor = fleet.start(WORKER_SHUTDOWN_TIMEOUT_SECONDS="1")
    job_id = _submit(services, seconds=RUN_SECONDS)
    _running(services, job_id)
    _signal_group(supervisor, signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    assert (_job(services, job_id).status, _job(services, job_id).attempts) == (JobStatus.PENDING, 0)

    fleet.start()
    job = _ended(services, job_id, timeout=RUN_SECONDS + 20)
    assert (job.status, job.attempts) == (JobStatus.COMPLETED, 1)


def test_a_sigkilled_supervisor_leaves_no_worker_behind_and_loses_no_job(fleet: Fleet, services: Services) -> None:
    supervisor = fleet.start()
    workers = supervisor.children(recursive=True)
    job_id = _submit(services, seconds=60)
    _running(services, job_id)
    supervisor.send_signal(signal.SIGKILL)
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], [p.cmdline() for p in alive]
    assert (_job(services, job_id).status, _job(services, job_id).attempts) == (JobStatus.PENDING, 0)


def test_a_sigkilled_algorithm_process_has_its_job_run_again_to_completion(
    fleet: Fleet, services: Services, tmp_path: Path
) -> None:
    supervisor = fleet.start()
    worker = _job_worker(supervisor)
    gate, mark = tmp_path / "gate", tmp_path / "mark"
    job, _ = services.jobs.create_job("Gated", {"gate": str(gate), "mark": str(mark)}, "_")
    wait_until(mark.exists, timeout=30, message="the job to run in an algorithm process")
    mark.unlink()
    # Its forkserver and its algorithm processes, the one running the job among them: kill them
    # all, as an OOM killer might.
    for process in worker.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    wait_until(mark.exists, timeout=30, message="the job to run again")
    gate.touch()
    job = _ended(services, job.job_id, timeout=30)
    assert (job.status, job.attempts, job.error) == (JobStatus.COMPLETED, 2, None)
    assert worker.is_running()  # the worker itself went on


def test_a_webhook_attempt_under_way_finishes_when_the_workers_stop(fleet: Fleet, services: Services) -> None:
    receiver = WebhookReceiver(hang_seconds=2).start()
    try:
        supervisor = fleet.start()
        job_id = _submit(services, seconds=0.01, webhook=receiver.url())
        wait_until(lambda: receiver.received, timeout=20, message="the attempt to start")
        _signal_group(supervisor, signal.SIGTERM)
        assert supervisor.wait(timeout=SHUTDOWN_SECONDS + 10) == 0
        webhook = _job(services, job_id).webhook
        assert (webhook.state.value, len(webhook.attempts)) == ("delivered", 1)
    finally:
        receiver.stop()


def test_a_sigkilled_worker_loses_no_retrying_job_and_no_batch(
    fleet: Fleet, services: Services, tmp_path: Path
) -> None:
    supervisor = fleet.start(WORKER_LEASE_SECONDS="2")
    retrying, _ = services.jobs.create_job(
        "FailsFirst",
        {"counter": str(tmp_path / "runs"), "failures": 1},
        "_",
        retry=RetryPolicy(max_attempts=3, backoff_seconds=0.5, jitter=False),
    )
    requests = [JobRequest("Sleeping", {"seconds": 0.3}) for _ in range(30)]
    batch = services.batches.create_batch(requests, "_").batch
    wait_until(
        lambda: services.batches.get_batch(batch.batch_id, "_").batch.counts["running"] > 0,
        timeout=30,
        message="the batch to be running",
    )
    _job_worker(supervisor).send_signal(signal.SIGKILL)  # mid-batch, the retrying job done, retrying or running

    job = _ended(services, retrying.job_id, timeout=60)
    assert (job.status, job.result) == (JobStatus.COMPLETED, {"run": 2})
    ended = wait_until(
        lambda: (b := services.batches.get_batch(batch.batch_id, "_").batch).finished and b,
        timeout=60,
        message="the batch to end",
    )
    assert ended.counts["completed"] == 30 and ended.total == 30
