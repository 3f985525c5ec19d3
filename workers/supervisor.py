"""Keeps the worker processes running: a pool for jobs, a pool for webhooks, each process replaced
when it dies (Dramatiq's own CLI stops every process when one dies, and restarts none).

Stopping: the first SIGTERM or SIGINT is passed on as SIGTERM (each worker lets its running jobs
finish, then puts the rest back in the queue; see ``workers.process``); a second SIGINT is passed
on as SIGINT (the workers stop at once, still putting their jobs back). The workers die with the
supervisor however it dies (they ask the kernel for a signal when it does), so starting the
command again never runs a second fleet beside orphans.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

from app.infra.config import Config
from app.infra.processes import SignalInbox, python_command

log = logging.getLogger(__name__)

#: A process that dies sooner than this after starting may be crash-looping (see ``restart_delay``).
_QUICK_DEATH_SECONDS = 5.0
_MAX_RESTART_DELAY_SECONDS = 30.0
#: Longest the supervisor goes without looking at its workers (a death wakes it at once).
_LOOK_SECONDS = 0.2
#: Seconds granted beyond the workers' own shutdown timeout before they are killed.
_KILL_GRACE_SECONDS = 15.0


@dataclass
class _Slot:
    """One worker process of a pool, and how often it has died young."""

    pool: str
    command: list[str]
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    quick_deaths: int = 0
    not_before: float = field(default=0.0)


def restart_delay(quick_deaths: int) -> float:
    """Seconds before a dead worker is started again, after ``quick_deaths`` early deaths in a row.

    One early death is restarted at once (a worker killed while it started, an out-of-memory kill);
    from the second in a row the worker is crash-looping: 1 s, doubling, up to 30 s.
    """
    return min(_MAX_RESTART_DELAY_SECONDS, 0.5 * 2 ** (quick_deaths - 1)) if quick_deaths > 1 else 0.0


def pool_commands(config: Config) -> dict[str, tuple[int, list[str]]]:
    """Pool name → (processes, command) for this configuration."""

    def command(role: str, threads: int) -> list[str]:
        return python_command("workers", "--role", role, "--threads", str(threads))  # workers/__main__.py

    return {
        "jobs": (config.worker_processes, command("jobs", config.worker_threads)),
        "webhooks": (config.webhook_worker_processes, command("webhooks", config.webhook_worker_threads)),
    }


class Supervisor:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.slots = [
            _Slot(pool, command) for pool, (count, command) in pool_commands(config).items() for _ in range(count)
        ]
        self.stopping = threading.Event()
        self._look = threading.Event()  # something changed: look at the workers now
        self._interrupts = 0

    def on_signal(self, signum: int) -> None:
        if signum == signal.SIGINT:
            self._interrupts += 1
            if self._interrupts >= 2:  # a second Ctrl-C: the workers stop at once
                self._signal_all(signal.SIGINT)
        if signum != signal.SIGCHLD:  # SIGCHLD: a worker died
            self.stopping.set()
        self._look.set()

    def run(self) -> int:
        """Start every slot and restart dead ones until asked to stop; then stop them all."""
        while not self.stopping.is_set():
            now = time.monotonic()
            for slot in self.slots:
                if slot.process is not None and slot.process.poll() is not None:
                    self._note_death(slot, now)
                if slot.process is None and now >= slot.not_before and not self.stopping.is_set():
                    slot.process = subprocess.Popen(slot.command)
                    slot.started_at = now
                    log.info("started %s worker, pid %d", slot.pool, slot.process.pid)
            self._look.wait(_LOOK_SECONDS)
            self._look.clear()
        return self._stop_all()

    def _note_death(self, slot: _Slot, now: float) -> None:
        assert slot.process is not None
        log.warning(
            "%s worker pid %d exited with %s; replacing it", slot.pool, slot.process.pid, slot.process.returncode
        )
        slot.quick_deaths = slot.quick_deaths + 1 if now - slot.started_at < _QUICK_DEATH_SECONDS else 0
        slot.not_before = now + restart_delay(slot.quick_deaths)
        slot.process = None

    def _running(self) -> list[subprocess.Popen]:
        return [s.process for s in self.slots if s.process is not None and s.process.poll() is None]

    def _signal_all(self, signum: int) -> None:
        for process in self._running():
            process.send_signal(signum)

    def _stop_all(self) -> int:
        running = self._running()
        log.info("stopping %d worker processes", len(running))
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.config.worker_shutdown_timeout_seconds + _KILL_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time; killing it", process.pid)
                process.kill()
                process.wait()
        return 0


def main() -> int:
    from app.infra.logs import configure_logging

    config = Config.from_env()
    configure_logging(config.log_level)
    supervisor = Supervisor(config)
    SignalInbox(supervisor.on_signal, (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD))
    log.info(
        "supervising %d job and %d webhook worker processes", config.worker_processes, config.webhook_worker_processes
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
