"""The worker supervisor replaces dead worker processes and stops them all on SIGTERM."""

from __future__ import annotations

import signal
import sys

import psutil
from support import ProcessGroup, platform_env, wait_until

from app.infra.embedded_redis import EmbeddedRedis
from workers.supervisor import restart_delay


def _workers(root: psutil.Process) -> dict[int, str]:
    found = {}
    for child in root.children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "--role" in command:
            found[child.pid] = command[command.index("--role") + 1]
    return found


def _pool_of(root: psutil.Process, size: int) -> dict[int, str] | None:
    workers = _workers(root)
    return workers if len(workers) == size else None


def test_a_killed_worker_is_replaced_and_sigterm_stops_every_worker(redis_server: EmbeddedRedis, tmp_path) -> None:
    env = platform_env(REDIS_URL=redis_server.url, WORKER_PROCESSES="2", WEBHOOK_WORKER_PROCESSES="1")
    group = ProcessGroup()
    supervisor = group.start("supervisor", [sys.executable, "-m", "workers.supervisor"], env, str(tmp_path))
    root = psutil.Process(supervisor.pid)
    try:
        first = wait_until(lambda: _pool_of(root, 3), timeout=20, message="3 workers")
        assert sorted(first.values()) == ["jobs", "jobs", "webhooks"]
        victim = next(pid for pid, queue in first.items() if queue == "jobs")
        psutil.Process(victim).send_signal(signal.SIGKILL)

        after = wait_until(
            lambda: (pool := _pool_of(root, 3)) and victim not in pool and pool,
            timeout=20,
            message="a replacement worker",
        )
        assert sorted(after.values()) == ["jobs", "jobs", "webhooks"]
        survivors = set(first) - {victim}
        assert survivors <= set(after)  # the others were left alone

        children = [psutil.Process(pid) for pid in after]
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        assert not any(child.is_running() and child.status() != psutil.STATUS_ZOMBIE for child in children)
    finally:
        group.stop()


def test_one_early_death_is_restarted_at_once_and_a_crash_loop_backs_off() -> None:
    assert [restart_delay(deaths) for deaths in range(8)] == [0, 0, 1, 2, 4, 8, 16, 30]
