"""A job is marked running only once it can run: a worker with fewer algorithm processes than
threads takes no job it cannot start at once (quick ones run in its threads), so the others stay
``pending`` in the queue (their time limit not ticking), for whichever worker frees a process first.
Real Redis, real workers (4 threads, 1 algorithm process)."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import dramatiq
import pytest
import redis
from flask.testing import FlaskClient
from support import finished_job, metric_value, wait_until

from app.infra.config import Config
from app.wiring import Services
from workers.process import start_worker

THREADS = 4


def _start(config: Config) -> dramatiq.Worker:
    return start_worker(dataclasses.replace(config, worker_algorithm_processes=1), threads=THREADS)


def _stop(worker: dramatiq.Worker) -> None:
    worker.stop(timeout=30_000)
    worker.broker.close()


@pytest.fixture
def gate(tmp_path: Path) -> Path:
    """The file every ``Gated`` job of a test waits for."""
    return tmp_path / "gate"


@pytest.fixture
def worker(config: Config, gate: Path) -> Iterator[dramatiq.Worker]:
    """One worker: 4 threads, 1 algorithm process (the gate opened before it stops, whatever the test did)."""
    worker = _start(config)
    yield worker
    gate.touch()
    _stop(worker)


def _submit(client: FlaskClient, algorithm: str, params: dict, **extra: object) -> str:
    answer = client.post("/jobs", json={"algorithm": algorithm, "params": params, **extra})
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["job_id"]


def _job(client: FlaskClient, job_id: str) -> dict:
    return client.get(f"/jobs/{job_id}").get_json()


def _finished(client: FlaskClient, job_id: str) -> dict:
    return finished_job(lambda path: client.get(path).get_json(), job_id, timeout=15)


def _at(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp).timestamp()


def _jobs_worker(client: FlaskClient, running: int) -> dict | None:
    """The one jobs worker's registry entry, once its heartbeat shows this many jobs running."""
    [entry] = [w for w in client.get("/workers").get_json()["workers"] if w["role"] == "jobs"]
    return entry if len(entry["running"]) == running else None


def _in_queue(services: Services, ready: int, leased: int) -> bool:
    counts = services.queues.counts("jobs")
    return (counts.ready, counts.leased) == (ready, leased)


def _queue(client: FlaskClient) -> dict:
    [queue] = [q for q in client.get("/queues").get_json()["queues"] if q["name"] == "jobs"]
    return queue


def test_jobs_beyond_the_processes_wait_pending_and_run_one_after_another(
    client: FlaskClient,
    services: Services,
    config: Config,
    worker: dramatiq.Worker,
    gate: Path,
    redis_client: redis.Redis,
) -> None:
    ids = [_submit(client, "Gated", {"gate": str(gate)}) for _ in range(3)]
    entry = wait_until(
        lambda: _jobs_worker(client, running=1), timeout=config.worker_lease_seconds, message="one job running"
    )
    assert entry["slots"] == 1 and entry["threads"] == THREADS
    # it holds only the job it runs: the others wait in the queue, for any worker with a process free
    wait_until(lambda: _in_queue(services, ready=2, leased=1), message="two jobs left in the queue")
    assert Counter(_job(client, job_id)["status"] for job_id in ids) == {"running": 1, "pending": 2}
    pending = [job_id for job_id in ids if _job(client, job_id)["status"] == "pending"]
    deliveries = redis_client.hmget(services.queues.keys("jobs").deliveries, pending)
    assert all(int(n or 0) <= 1 for n in deliveries), deliveries  # looked at once at most, not fetched again and again
    assert [r["job_id"] for r in entry["running"]] == [j for j in ids if _job(client, j)["status"] == "running"]
    queue = _queue(client)
    assert (queue["running"], queue["pending"]) == (1, 2)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert metric_value(metrics, "jobs_running") == 1
    assert metric_value(metrics, "jobs_pending", queue="jobs") == 2
    assert (metric_value(metrics, "worker_slots"), metric_value(metrics, "worker_slots_busy")) == (1, 1)

    gate.touch()
    jobs = sorted((_finished(client, job_id) for job_id in ids), key=lambda job: _at(job["started_at"]))
    assert [(job["status"], job["attempts"]) for job in jobs] == [("completed", 1)] * 3
    for earlier, later in itertools.pairwise(jobs):  # one process: each started once the one before had ended
        assert _at(later["started_at"]) >= _at(earlier["completed_at"]), (earlier, later)


@pytest.mark.usefixtures("worker")
def test_a_job_s_time_limit_counts_from_its_start_not_while_it_waits(client: FlaskClient) -> None:
    blocker = _submit(client, "Sleeping", {"seconds": 3})
    wait_until(lambda: _job(client, blocker)["status"] == "running", message="the 3 s job to start")
    waiting = _submit(client, "Sleeping", {"seconds": 0.01}, timeout=1)  # waits about 3 s for the process

    job = _finished(client, waiting)
    assert (job["status"], job["error"]) == ("completed", None)
    assert _at(job["started_at"]) >= _at(_job(client, blocker)["completed_at"])


@pytest.mark.usefixtures("worker")
def test_a_quick_job_runs_at_once_in_a_thread_while_the_process_is_busy(client: FlaskClient, gate: Path) -> None:
    blocker = _submit(client, "Gated", {"gate": str(gate)})
    wait_until(lambda: _job(client, blocker)["status"] == "running", message="the gated job to start")

    quick = _finished(client, _submit(client, "PrimeChecker", {"number": 97}))
    assert (quick["status"], quick["result"]["is_prime"]) == ("completed", True)
    assert _job(client, blocker)["status"] == "running"  # it still holds the only process


@pytest.mark.usefixtures("worker")
def test_after_a_run_of_quick_jobs_jobs_needing_a_process_still_wait_in_the_queue(
    client: FlaskClient, services: Services, gate: Path
) -> None:
    # Quick jobs (their messages say so) let the worker take as many as its threads: a run of them
    # ends at the first job that needs a process, and those beyond its one process go back, pending.
    quick = [_submit(client, "PrimeChecker", {"number": 1000 + n}) for n in range(20)]
    assert {_finished(client, job_id)["status"] for job_id in quick} == {"completed"}
    gated = [_submit(client, "Gated", {"gate": str(gate)}) for _ in range(3)]
    wait_until(lambda: _in_queue(services, ready=2, leased=1), message="one gated job running, two in the queue")
    assert sorted(_job(client, j)["status"] for j in gated) == ["pending", "pending", "running"]
    assert sum(_job(client, j)["attempts"] for j in gated) == 1
    gate.touch()
    assert [(_finished(client, j)["status"], _finished(client, j)["attempts"]) for j in gated] == [("completed", 1)] * 3


def test_a_job_cancelled_while_it_waits_for_a_process_is_cancelled_and_never_started(
    client: FlaskClient, services: Services, config: Config, worker: dramatiq.Worker, gate: Path
) -> None:
    blocker = _submit(client, "Gated", {"gate": str(gate)})
    wait_until(lambda: _job(client, blocker)["status"] == "running", message="the first job to start")
    waiting = _submit(client, "Gated", {"gate": str(gate)})
    wait_until(lambda: _in_queue(services, ready=1, leased=1), message="the second job in the queue")
    assert _job(client, waiting)["status"] == "pending"

    answer = client.post(f"/jobs/{waiting}/cancel")
    assert (answer.status_code, answer.get_json()["status"]) == (202, "cancelled")
    gate.touch()
    assert _finished(client, blocker)["status"] == "completed"
    wait_until(lambda: services.queues.counts("jobs").leased == 0, message="both messages settled")
    job = _job(client, waiting)
    assert (job["status"], job["attempts"], job["started_at"]) == ("cancelled", 0, None)


def test_jobs_waiting_behind_a_stopping_worker_run_on_a_new_worker(
    client: FlaskClient, services: Services, config: Config, gate: Path
) -> None:
    first = _start(config)
    stopper = threading.Thread(target=_stop, args=(first,), name="stopping-first-worker")
    try:
        blocker = _submit(client, "Gated", {"gate": str(gate)})
        wait_until(lambda: _job(client, blocker)["status"] == "running", message="the first job to start")
        waiting = [_submit(client, "Gated", {"gate": str(gate)}) for _ in range(2)]
        wait_until(lambda: _in_queue(services, ready=2, leased=1), message="two jobs waiting in the queue")

        stopper.start()  # graceful: the running job may finish; the first worker takes no more
        wait_until(lambda: first.broker.fetching_stopped, message="the first worker to stop fetching")
        # A look begun just before (a fetch, then the give-back) may still be on its way back.
        wait_until(lambda: _in_queue(services, ready=2, leased=1), message="both waiting jobs in the queue")
        assert [(_job(client, j)["status"], _job(client, j)["attempts"]) for j in waiting] == [("pending", 0)] * 2
        assert _job(client, blocker)["status"] == "running"

        second = _start(config)
        try:
            gate.touch()
            first_run = _finished(client, blocker)
            reruns = [_finished(client, job_id) for job_id in waiting]
        finally:
            _stop(second)
    finally:
        gate.touch()
        if stopper.ident is None:
            _stop(first)
        else:
            stopper.join()
    assert [(job["status"], job["attempts"]) for job in [first_run, *reruns]] == [("completed", 1)] * 3
    # each worker has one algorithm process: the waiting jobs ran on the second worker's, not the first's
    assert len({job["result"]["pid"] for job in reruns}) == 1
    assert reruns[0]["result"]["pid"] != first_run["result"]["pid"]


@pytest.mark.parametrize(
    ("algorithm", "params", "needs"),
    [
        ("Gated", {"gate": "/nowhere"}, True),
        ("WhereRun", {"quick": True}, False),  # quick: runs in the thread, no process to wait for
        ("PrimeChecker", {"number": 97}, False),
        ("PrimeChecker", {"number": 2**64 + 13}, True),
    ],
)
def test_whether_a_queued_job_needs_an_algorithm_process(
    client: FlaskClient, services: Services, algorithm: str, params: dict, needs: bool
) -> None:
    assert services.runs.needs_process(_submit(client, algorithm, params)) is needs


def test_a_job_that_cannot_run_or_is_over_needs_no_process(client: FlaskClient, services: Services) -> None:
    cancelled = _submit(client, "Gated", {"gate": "/nowhere"})
    client.post(f"/jobs/{cancelled}/cancel")
    assert services.runs.needs_process(cancelled) is False  # starting it settles it at once
    assert services.runs.needs_process("ffffffffffff") is False


def test_a_job_goes_to_the_worker_with_a_free_process_not_to_one_with_free_threads(
    client: FlaskClient, services: Services, config: Config, gate: Path
) -> None:
    """Two workers of 4 threads and 1 process each: two slow jobs run at once, one on each, whichever
    fetched first (a worker holding its process busy gives a slow job back, never started)."""
    workers = [_start(config), _start(config)]
    try:
        ids = [_submit(client, "Gated", {"gate": str(gate)}) for _ in range(2)]
        wait_until(
            lambda: all(_job(client, job_id)["status"] == "running" for job_id in ids),
            timeout=config.worker_lease_seconds,
            message="both jobs running, one per worker",
        )
        gate.touch()
        jobs = [_finished(client, job_id) for job_id in ids]
    finally:
        gate.touch()
        for worker in workers:
            _stop(worker)
    assert [(job["status"], job["attempts"]) for job in jobs] == [("completed", 1)] * 2
    assert jobs[0]["result"]["pid"] != jobs[1]["result"]["pid"]  # each worker's own algorithm process


@pytest.mark.usefixtures("worker")
def test_a_job_of_higher_priority_submitted_later_runs_first_once_the_process_is_free(
    client: FlaskClient, services: Services, tmp_path: Path
) -> None:
    """Jobs that wait for a process wait in the queue, which orders them by priority."""
    first_gate = tmp_path / "first-gate"
    blocker = _submit(client, "Gated", {"gate": str(first_gate)})
    wait_until(lambda: _job(client, blocker)["status"] == "running", message="the first job to start")
    low = _submit(client, "Sleeping", {"seconds": 0.01}, priority=1)
    high = _submit(client, "Sleeping", {"seconds": 0.01}, priority=9)
    wait_until(lambda: _in_queue(services, ready=2, leased=1), message="both jobs in the queue")

    first_gate.touch()
    low_job, high_job = _finished(client, low), _finished(client, high)
    assert _at(high_job["started_at"]) < _at(low_job["started_at"])
