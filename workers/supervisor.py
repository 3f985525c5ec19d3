"""Keeps the worker processes running: a pool for jobs, a pool for webhooks, each process replaced
when it dies (Dramatiq's own CLI stops every process when one dies, and restarts none).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from app.config import Config

log = logging.getLogger(__name__)

#: A process that dies sooner than this after starting is crash-looping: wait before the next start.
_QUICK_DEATH_SECONDS = 5.0
_MAX_RESTART_DELAY_SECONDS = 30.0


@dataclass
class _Slot:
    """One worker process of a pool, and how often it has died young."""

    pool: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    not_before: float = field(default=0.0)


def pool_commands(config: Config) -> dict[str, tuple[int, list[str]]]:
    """Pool name → (processes, command) for this configuration."""
    run = [sys.executable, "-m", "workers.process"]
    return {
        "jobs": (config.worker_processes, [*run, "--role", "jobs", "--threads", str(config.worker_threads)]),
        "webhooks": (
            config.webhook_worker_processes,
            [*run, "--role", "webhooks", "--threads", str(config.webhook_worker_threads)],
        ),
    }


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.slots = [
            _Slot(pool, command) for pool, (count, command) in pool_commands(config).items() for _ in range(count)
        ]
        self.stopping = threading.Event()

    def run(self) -> int:
        """Start every slot and restart dead ones until asked to stop; then stop them all."""
        while not self.stopping.is_set():
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    self._note_death(slot, now)
                if slot.process is None and now >= slot.not_before:
                    slot.process = subprocess.Popen(slot.command)
                    slot.started_at = now
                    log.info("started %s worker, pid %d", slot.pool, slot.process.pid)
            self.stopping.wait(0.2)
        return self._stop_all()

    def _note_death(self, slot: _Slot, now: float) -> None:
        assert slot.process is not None
        log.warning(
            "%s worker pid %d exited with %s; replacing it", slot.pool, slot.process.pid, slot.process.returncode
        )
        slot.quick_deaths = slot.quick_deaths + 1 if now - slot.started_at < _QUICK_DEATH_SECONDS else 0
        delay = min(_MAX_RESTART_DELAY_SECONDS, 0.5 * 2**slot.quick_deaths) if slot.quick_deaths else 0
        slot.not_before = now + delay
        slot.process = None

    def _stop_all(self) -> int:
        running = [s.process for s in self.slots if s.process is not None and s.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.worker_shutdown_timeout_seconds + 5
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()
        return 0


def main() -> int:
    from app.logs import configure_logging

    config = Config.from_env()
    configure_logging(config.log_level)
    supervisor = Supervisor(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: supervisor.stopping.set())
    log.info(
        "supervising %d job and %d webhook worker processes", config.worker_processes, config.webhook_worker_processes
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
