"""ProcessExecutor: algorithm runs go to a child process, except those declared quick."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import pytest

import algorithms
from app.config import Config
from app.services.execution import COMPLETED
from app.services.messages import JOBS_QUEUE
from workers.executor import ProcessExecutor
from workers.process import start_worker


@pytest.fixture(scope="module")
def executor() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(1)
    yield executor
    executor.close()


def _pid_of_run(executor: ProcessExecutor, quick: bool) -> int:
    algorithm = algorithms.load_algorithms().get("WhereRun")
    run = executor(algorithm, algorithm.load_params({"quick": quick}), timeout=10, stop_asked=lambda: False)
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


@pytest.mark.parametrize(("prefetch", "expected"), [(0, 2), (4, 4)])
def test_a_worker_takes_jobs_ahead_of_its_threads_as_configured(config: Config, prefetch: int, expected: int) -> None:
    worker = start_worker(dataclasses.replace(config, worker_prefetch=prefetch), threads=2)
    try:
        assert worker.consumers[JOBS_QUEUE].prefetch == expected  # what its consumer fetches up to
    finally:
        worker.stop(timeout=5000)
        worker.broker.close()
