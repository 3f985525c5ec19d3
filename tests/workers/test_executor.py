"""ProcessExecutor: runs go to a pool of algorithm processes, except those declared quick."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
from support import ProcessGroup, environment, platform_env, wait_until

import algorithms
from app.infra.config import Config
from app.services.execution import CANCELLED, COMPLETED, INTERRUPTED, LOST, TIMEOUT
from app.services.messages import JOBS_QUEUE
from workers.executor import ProcessExecutor
from workers.process import start_worker

HELPERS = Path(__file__).resolve().parents[1] / "helpers"


@pytest.fixture(scope="module")
def executor() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(1)
    yield executor
    executor.close()


@pytest.fixture
def make_executor() -> Iterator[type[ProcessExecutor]]:
    made: list[ProcessExecutor] = []

    def make(size: int) -> ProcessExecutor:
        made.append(ProcessExecutor(size))
        return made[-1]

    yield make  # type: ignore[misc]
    for executor in made:
        executor.interrupt()  # a test that failed may have left a run at its gate
        executor.close()


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as pool:
        yield pool


def _where(quick: bool) -> tuple[algorithms.Algorithm, dict]:
    algorithm = algorithms.load_algorithms().get("WhereRun")
    return algorithm, algorithm.load_params({"quick": quick})


def _gated(gate: Path, **extra: str) -> tuple[algorithms.Algorithm, dict]:
    algorithm = algorithms.load_algorithms().get("Gated")
    return algorithm, algorithm.load_params({"gate": str(gate), **extra})


def _pid_of_run(executor: ProcessExecutor, quick: bool) -> int:
    run = executor(*_where(quick), timeout=10, stop_asked=lambda: False)
    assert run.outcome == COMPLETED, run
    return run.result["pid"]


def test_a_quick_run_happens_in_the_calling_process(executor: ProcessExecutor) -> None:
    assert _pid_of_run(executor, quick=True) == os.getpid()


def test_other_runs_happen_in_a_child_process(executor: ProcessExecutor) -> None:
    assert _pid_of_run(executor, quick=False) != os.getpid()


def test_prime_checker_is_quick_for_word_sized_numbers_only() -> None:
    checker = algorithms.load_algorithms().get("PrimeChecker")
    assert checker.is_quick(checker.load_params({"number": 2**52 - 1}))
    assert not checker.is_quick(checker.load_params({"number": 2**64 + 1}))


def test_one_process_starts_with_the_pool_and_others_only_when_runs_need_them(make_executor) -> None:
    executor = make_executor(4)
    [first] = wait_until(executor.pids, timeout=10, message="the pool's first process")
    assert _pid_of_run(executor, quick=False) == first
    assert _pid_of_run(executor, quick=False) == first
    assert executor.pids() == [first]  # one run at a time needed no more


def test_the_pool_runs_as_many_as_its_size_at_once_and_the_others_wait_their_turn(
    make_executor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    executor = make_executor(2)
    gate = tmp_path / "gate"
    started: queue.SimpleQueue[int] = queue.SimpleQueue()
    runs = [
        threads.submit(executor, *_gated(gate), 30, lambda: False, lambda f, _, n=n: f == 0 and started.put(n))
        for n in range(3)
    ]
    first_two = {started.get(timeout=10), started.get(timeout=10)}
    busy = executor.pids()
    assert len(busy) == 2  # the third run has no process to run on: it waits for one
    gate.touch()
    results = [run.result(timeout=10) for run in runs]
    assert [r.outcome for r in results] == [COMPLETED] * 3
    assert {r.result["pid"] for r in results} == set(busy)  # the third ran on whichever came free
    assert first_two | {started.get(timeout=1)} == {0, 1, 2}


def test_a_run_waiting_for_a_process_is_cancelled_or_timed_out_while_it_waits(
    make_executor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    executor = make_executor(1)
    gate = tmp_path / "gate"
    holding = threading.Event()
    holder = threads.submit(executor, *_gated(gate), 30, lambda: False, lambda *_: holding.set())
    assert holding.wait(10)
    cancel = threading.Event()
    waiting = threads.submit(executor, *_where(quick=False), 30, cancel.is_set)
    cancel.set()
    assert waiting.result(timeout=5).outcome == CANCELLED
    timed_out = executor(*_where(quick=False), timeout=0.2, stop_asked=lambda: False)
    assert timed_out.outcome == TIMEOUT and timed_out.elapsed >= 0.2
    gate.touch()
    assert holder.result(timeout=10).outcome == COMPLETED  # its process was never touched
    assert _pid_of_run(executor, quick=False) == holder.result().result["pid"]


def test_interrupt_ends_running_and_waiting_runs_at_once_and_any_run_after(
    make_executor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    executor = make_executor(1)
    holding = threading.Event()
    running = threads.submit(executor, *_gated(tmp_path / "gate"), 30, lambda: False, lambda *_: holding.set())
    assert holding.wait(10)
    waiting = threads.submit(executor, *_where(quick=False), 30, lambda: False)
    executor.interrupt()
    assert (running.result(timeout=2).outcome, waiting.result(timeout=2).outcome) == (INTERRUPTED, INTERRUPTED)
    assert executor(*_where(quick=True), timeout=10, stop_asked=lambda: False).outcome == INTERRUPTED


def test_a_process_killed_while_idle_is_replaced_before_a_run_needs_it(make_executor) -> None:
    executor = make_executor(1)
    first = _pid_of_run(executor, quick=False)
    os.kill(first, signal.SIGKILL)
    [second] = wait_until(
        lambda: (pids := executor.pids()) and first not in pids and pids, timeout=10, message="a replacement"
    )
    assert _pid_of_run(executor, quick=False) == second  # not lost: the run never met the dead one


def test_a_process_killed_mid_run_loses_that_run_and_a_replacement_serves_the_next(
    make_executor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    executor = make_executor(1)
    holding = threading.Event()
    run = threads.submit(executor, *_gated(tmp_path / "gate"), 30, lambda: False, lambda *_: holding.set())
    assert holding.wait(10)
    [victim] = executor.pids()
    os.kill(victim, signal.SIGKILL)
    assert run.result(timeout=5).outcome == LOST
    assert _pid_of_run(executor, quick=False) != victim


def test_a_forkserver_killed_while_a_process_starts_only_delays_that_start(make_executor) -> None:
    first = make_executor(1)
    child = _pid_of_run(first, quick=False)
    forkserver = psutil.Process(child).ppid()
    os.kill(forkserver, signal.SIGSTOP)  # the next start waits on it...
    second = make_executor(1)
    os.kill(forkserver, signal.SIGKILL)  # ...and fails: another forkserver serves the next try
    assert psutil.Process(_pid_of_run(second, quick=False)).ppid() != forkserver
    assert _pid_of_run(first, quick=False) == child  # processes outlive their forkserver


def test_a_report_made_in_an_algorithm_process_reaches_the_callback_while_the_run_goes_on(
    executor: ProcessExecutor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    reports: queue.SimpleQueue[tuple[float, str]] = queue.SimpleQueue()
    run = threads.submit(executor, *_gated(gate), 30, lambda: False, lambda *report: reports.put(report))
    assert reports.get(timeout=10) == (0.0, "at the gate")
    assert not run.done()  # it cannot end before the gate opens, which happens only now
    gate.touch()
    assert run.result(timeout=10).result["pid"] in executor.pids()
    assert reports.get(timeout=1) == (1.0, "through")


def test_a_quick_run_reports_in_the_calling_thread(executor: ProcessExecutor) -> None:
    reports: list[tuple[float, str, threading.Thread]] = []
    run = executor(*_where(quick=True), 10, lambda: False, lambda *r: reports.append((*r, threading.current_thread())))
    assert run.outcome == COMPLETED
    assert reports == [(1.0, "here", threading.current_thread())]


def test_a_failing_progress_callback_does_not_fail_the_run(executor: ProcessExecutor) -> None:
    def broken(fraction: float, message: str) -> None:
        raise RuntimeError("the callback's own bug")

    assert executor(*_where(quick=False), 10, lambda: False, broken).outcome == COMPLETED
    assert executor(*_where(quick=True), 10, lambda: False, broken).outcome == COMPLETED


def test_the_forkserver_and_the_processes_ignore_the_signals_meant_for_the_worker(
    executor: ProcessExecutor, threads: ThreadPoolExecutor, tmp_path: Path
) -> None:
    """What a process manager's SIGTERM or Ctrl-C to the whole group does to them: nothing."""
    gate = tmp_path / "gate"
    holding = threading.Event()
    run = threads.submit(executor, *_gated(gate), 30, lambda: False, lambda *_: holding.set())
    assert holding.wait(10)
    [child] = executor.pids()
    forkserver = psutil.Process(psutil.Process(child).ppid())
    for pid in (forkserver.pid, child):
        for signum in (signal.SIGTERM, signal.SIGINT):
            os.kill(pid, signum)
    gate.touch()
    assert run.result(timeout=10).result["pid"] == child
    assert executor.pids() == [child]
    assert forkserver.is_running() and forkserver.status() != psutil.STATUS_ZOMBIE


def test_a_worker_killed_while_its_process_is_stuck_in_native_code_leaves_no_process_behind(tmp_path: Path) -> None:
    group = ProcessGroup()
    log = tmp_path / "host.log"
    group.start("host", [sys.executable, str(HELPERS / "executor_host.py")], platform_env(), str(tmp_path))
    try:
        line = wait_until(
            lambda: (text := log.read_text()).endswith("\n") and text, timeout=30, message=f"the host's pids ({log})"
        )
        forkserver, child = (psutil.Process(int(pid)) for pid in line.split())
        group.processes["host"].kill()
        _, alive = psutil.wait_procs([forkserver, child], timeout=10)
        assert alive == []
    finally:
        group.stop()


def test_the_pool_size_is_a_setting_defaulting_to_the_cpu_count(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, {"REDIS_URL": config.redis_url})
    assert Config.from_env().worker_algorithm_processes == len(os.sched_getaffinity(0))
    monkeypatch.setenv("WORKER_ALGORITHM_PROCESSES", "3")
    assert Config.from_env().worker_algorithm_processes == 3
    monkeypatch.setenv("WORKER_ALGORITHM_PROCESSES", "0")
    with pytest.raises(ValueError, match="WORKER_ALGORITHM_PROCESSES must be positive"):
        Config.from_env()


@pytest.mark.parametrize(("prefetch", "expected"), [(0, 4), (2, 2), (4, 4)])  # 0: twice the threads
def test_a_worker_takes_jobs_ahead_of_its_threads_as_configured(config: Config, prefetch: int, expected: int) -> None:
    worker = start_worker(dataclasses.replace(config, worker_prefetch=prefetch), threads=2)
    try:
        assert worker.consumers[JOBS_QUEUE].prefetch == expected  # what its consumer fetches up to
    finally:
        worker.stop(timeout=10_000)
        worker.broker.close()


def test_a_reservation_holds_its_process_across_its_run_until_released(make_executor) -> None:
    executor = make_executor(1)
    [pid] = wait_until(executor.pids, timeout=10, message="the pool's first process")
    reservation = wait_until(executor.try_reserve, timeout=10, message="the process ready")
    assert executor.try_reserve() is None  # no other free: a caller would wait (``reserve``)
    run = reservation(*_where(quick=False), timeout=10, stop_asked=lambda: False)
    assert (run.outcome, run.result["pid"]) == (COMPLETED, pid)
    assert executor.try_reserve() is None  # still held: its job's outcome is not recorded yet
    reservation.release()
    reservation.release()  # idempotent
    again = executor.try_reserve()
    assert again is not None
    again.release()


def test_a_quick_run_gives_its_reserved_process_back_and_stays_in_the_thread(make_executor) -> None:
    executor = make_executor(1)
    reservation = wait_until(executor.try_reserve, timeout=10, message="the process ready")
    run = reservation(*_where(quick=True), timeout=10, stop_asked=lambda: False)
    assert run.result["pid"] == os.getpid()
    other = executor.try_reserve()  # free again while the quick job is still being recorded
    assert other is not None
    other.release()
    reservation.release()


def test_free_counts_the_processes_a_job_could_take_now_started_or_not(make_executor) -> None:
    executor = make_executor(2)
    assert executor.free() == 2  # one starting, one not started yet: both would serve a job
    first = executor.try_reserve()
    second = executor.try_reserve()  # waits for a process to start, rather than saying none
    assert first is not None and second is not None and executor.free() == 0
    assert executor.try_reserve() is None  # every one taken: at once
    freed = executor.freed()
    first.release()
    assert (executor.free(), executor.freed()) == (1, freed + 1)
    second.release()
    assert executor.free() == 2


def test_a_reserved_process_that_died_is_replaced_before_the_run(make_executor) -> None:
    executor = make_executor(1)
    [pid] = wait_until(executor.pids, timeout=10, message="the pool's first process")
    reservation = wait_until(executor.try_reserve, timeout=10, message="the process ready")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    run = reservation(*_where(quick=False), timeout=10, stop_asked=lambda: False)
    assert run.outcome == COMPLETED and run.result["pid"] != pid  # not LOST: the run had not begun
    reservation.release()
