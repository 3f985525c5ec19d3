"""Admission: how many job messages a worker fetches, from its free processes and what it holds."""

from __future__ import annotations

import contextlib

import pytest

from workers.admission import QUICK_RUN, UNLIMITED, Admission


class _Pool:
    """Stands in for ``ProcessExecutor``: only what admission reads."""

    def __init__(self, free: int) -> None:
        self.free_now = free
        self.freed_count = 0

    def free(self) -> int:
        return self.free_now

    def freed(self) -> int:
        return self.freed_count


@pytest.mark.parametrize(
    ("free", "held", "admitted", "room"),
    [
        (2, 0, 0, 2),  # one job per free process
        (2, 1, 0, 1),  # a job held, not yet decided, may take one of them
        (2, 2, 2, 2),  # two quick jobs running in threads take no process
        (0, 2, 2, 1),  # processes busy: one at a time, to find a quick job
        (0, 3, 2, 0),  # ...and not while that one is undecided
        (1, 2, 1, 0),  # the free process is spoken for by the undecided job
    ],
)
def test_room_is_the_free_processes_not_spoken_for_else_one_look(
    free: int, held: int, admitted: int, room: int
) -> None:
    admission = Admission(_Pool(free))  # type: ignore[arg-type]
    with contextlib.ExitStack() as running:
        for _ in range(admitted):
            running.enter_context(admission.admitted())
        assert admission.room(held) == room


def test_a_job_turned_away_stops_the_looks_until_a_process_is_freed() -> None:
    pool = _Pool(free=0)
    admission = Admission(pool)  # type: ignore[arg-type]
    assert admission.room(held=0) == 1
    admission.turn_away()
    assert admission.room(held=0) == 0
    pool.freed_count += 1  # a job ended and gave its process back
    assert admission.room(held=0) == 1


def _decide(admission: Admission, quick: bool, times: int = 1) -> None:
    for _ in range(times):
        with admission.admitted(quick=quick):
            pass


def test_during_a_run_of_quick_jobs_the_prefetch_alone_bounds_the_room() -> None:
    admission = Admission(_Pool(free=0))  # type: ignore[arg-type]
    _decide(admission, quick=True, times=QUICK_RUN - 1)
    assert admission.room(held=0) == 1  # not yet a run: one look at a time
    _decide(admission, quick=True)
    assert admission.room(held=5) == UNLIMITED  # a run of quick jobs: as many as the prefetch allows
    _decide(admission, quick=False)  # a job that holds a process ends the run
    assert admission.room(held=0) == 1


def test_a_job_turned_away_ends_a_run_of_quick_jobs_until_another_whole_run() -> None:
    pool = _Pool(free=0)
    admission = Admission(pool)  # type: ignore[arg-type]
    _decide(admission, quick=True, times=QUICK_RUN)
    admission.turn_away()
    assert admission.room(held=0) == 0
    _decide(admission, quick=True)  # one taken in the same batch, decided after
    pool.freed_count += 1
    assert admission.room(held=0) == 1  # a process freed: one look, not a prefetch's worth


def test_deciding_a_job_tells_the_consumer_to_look_again() -> None:
    looks: list[int] = []
    admission = Admission(_Pool(free=1), on_admitted=lambda: looks.append(1))  # type: ignore[arg-type]
    with admission.admitted():
        assert looks == [1]
