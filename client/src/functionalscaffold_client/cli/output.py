"""How the CLI shows things: JSON for scripts, aligned text for people, a live line while waiting."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TextIO

from functionalscaffold_client.models import Job

_COLOURS = {"red": 31, "green": 32, "yellow": 33}
_ANSI = re.compile(r"\033\[[0-9;]*m")


def style(text: str, colour: str | None = None, *, bold: bool = False, stream: TextIO | None = None) -> str:
    """``text`` in colour when it goes to a terminal; plain when piped, so scripts never see escapes."""
    if not (stream or sys.stdout).isatty() or (colour is None and not bold):
        return text
    codes = [str(_COLOURS[colour])] if colour else []
    codes += ["1"] if bold else []
    return f"\033[{';'.join(codes)}m{text}\033[0m"


def unstyled_length(text: str) -> int:
    return len(_ANSI.sub("", text))


def echo(text: str = "", *, err: bool = False, end: str = "\n") -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + end)
    stream.flush()


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds")  # as the API writes them
    raise TypeError(f"{type(value).__name__} is not JSON")


def echo_json(value: Any) -> None:
    """``value`` (a dataclass, or a list of them) as indented JSON on stdout."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    elif isinstance(value, list):
        value = [
            dataclasses.asdict(item) if dataclasses.is_dataclass(item) and not isinstance(item, type) else item
            for item in value
        ]
    echo(json.dumps(value, indent=2, default=_plain))


def compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=_plain)


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns padded to their widest cell (colours aside); the last column is never padded."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(unstyled_length(row[i]) for row in cells) for i in range(len(headers) - 1)]
    for number, row in enumerate(cells):
        padded = [cell + " " * (width - unstyled_length(cell)) for cell, width in zip(row, widths, strict=False)]
        line = "  ".join([*padded, row[-1]])
        echo(style(line, bold=True) if number == 0 else line)


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless there is exactly one: "1 attempt", "0 attempts"."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def duration(job: Job) -> str:
    if job.started_at is None:
        return "-"
    end = job.completed_at or datetime.now(job.started_at.tzinfo)
    return f"{(end - job.started_at).total_seconds():.3f} s"


def when(moment: datetime | None) -> str:
    """In the local time zone, named: the API's times are UTC."""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


_STATUS_COLOURS = {"completed": "green", "failed": "red", "cancelled": "yellow"}


def status(job: Job) -> str:
    return style(job.status, _STATUS_COLOURS.get(job.status))


def echo_job(job: Job) -> None:
    """The job as ``field  value`` lines, the result (or error) last."""
    lines = [
        ("job", job.job_id),
        ("status", status(job) + (" (cancel requested)" if job.cancel_requested and not job.finished else "")),
        ("algorithm", job.algorithm or "-"),
        ("params", compact(job.params)),
        ("created", when(job.created_at)),
        ("started", when(job.started_at)),
        ("finished", when(job.completed_at)),
        ("duration", duration(job)),
    ]
    if job.webhook is not None:
        attempts = counted(len(job.webhook.attempts), "attempt")
        lines.append(("webhook", f"{job.webhook.url} ({job.webhook.state}, {attempts})"))
    if job.error:
        lines.append(("error", job.error))
    if job.error_details:
        lines.append(("traceback", "\n" + job.error_details.rstrip()))
    if job.result is not None:
        lines.append(("result", compact(job.result)))
    for name, value in lines:
        echo(f"{name:<10} {value}")


def bar(fraction: float, width: int = 24) -> str:
    """``[#####-----]  50%``: the one bar drawn for jobs and batches."""
    filled = round(fraction * width)
    return f"[{'#' * filled}{'-' * (width - filled)}] {fraction:4.0%}"


class Progress:
    """A line on stderr showing the job's status, its progress bar (when its algorithm reports
    progress) and the time waited, redrawn ten times a second.

    On a terminal the line is redrawn in place; elsewhere (``--progress`` into a log) one line is
    written per change of status.
    """

    def __init__(self, job_id: str) -> None:
        self._job_id = job_id
        self._status = "waiting"
        self._fraction: float | None = None
        self._message = ""
        self._started = time.monotonic()
        self._live = sys.stderr.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._redraw, daemon=True)

    def __enter__(self) -> Progress:
        if self._live:
            self._thread.start()
        else:
            self._line()
        return self

    def update(self, job: Job, _elapsed: float = 0.0) -> None:
        if job.progress is not None:
            self.progress(job.progress.fraction, job.progress.message)
        if job.status != self._status:
            self._status = job.status
            if not self._live:
                self._line()

    def progress(self, fraction: float, message: str | None) -> None:
        self._fraction, self._message = min(1.0, max(0.0, fraction)), message or ""

    def _bar(self) -> str:
        if self._fraction is None:
            return ""
        return f" {bar(self._fraction)}" + (f" {self._message}" if self._message else "")

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._live:
            self._thread.join()
            echo("\r\033[K", err=True, end="")

    def _line(self) -> None:
        elapsed = time.monotonic() - self._started
        echo(f"job {self._job_id}: {self._status} ({elapsed:.1f} s)", err=True)

    def _redraw(self) -> None:
        spinner = "|/-\\"
        tick = 0
        while not self._stop.wait(0.1):
            elapsed = time.monotonic() - self._started
            text = f"{spinner[tick % 4]} job {self._job_id}: {self._status}{self._bar()} ({elapsed:.1f} s)"
            text = text[: shutil.get_terminal_size().columns - 1]
            echo(f"\r\033[K{text}", err=True, end="")
            tick += 1
