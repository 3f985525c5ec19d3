"""A job's live event stream, read the same way by both clients: the text/event-stream parser and
when a dropped stream is reopened. No I/O here."""

from __future__ import annotations

import json
from typing import Any

from functionalscaffold_client._calls import Request
from functionalscaffold_client.errors import ConnectionFailed
from functionalscaffold_client.models import Job, JobEvent, Progress

#: Longest silence on an event stream before it is taken for dead and reopened (the server sends a
#: keep-alive every 15 s).
STREAM_READ_TIMEOUT = 45.0
#: Pause before reopening a stream that failed.
REOPEN_SECONDS = 0.5


class EventParser:
    """Turns the lines of a text/event-stream body into ``JobEvent``s (comments and ``retry`` skipped)."""

    def __init__(self) -> None:
        self._kind, self._id, self._data = "message", None, []  # type: tuple[str, str | None, list[str]]

    def feed(self, line: str) -> JobEvent | None:
        """Take one line (without its end); an event when the line ends one."""
        if line == "":
            event = self._event() if self._data else None
            self._kind, self._id, self._data = "message", None, []
            return event
        if not line.startswith(":"):
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._kind = value
            elif name == "id":
                self._id = value
            elif name == "data":
                self._data.append(value)
        return None

    def _event(self) -> JobEvent:
        data: dict[str, Any] = json.loads("\n".join(self._data))
        return JobEvent(
            self._kind,
            self._id,
            data,
            job=Job.from_json(data) if self._kind == "status" else None,
            progress=Progress.from_json(data) if self._kind == "progress" else None,
        )


class Following:
    """One ``events()`` call: the request that (re)opens the stream from the last event seen, and
    whether a failure is worth another try (until ``retry_seconds`` pass without an event)."""

    def __init__(self, job_id: str, last_event_id: str | None, retry_seconds: float) -> None:
        self.job_id = job_id
        self.last_event_id = last_event_id
        self._retry_seconds = retry_seconds
        self._failing_since: float | None = None

    def request(self) -> Request:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        return Request(
            "GET", f"/jobs/{self.job_id}/events", headers=headers, idempotent=True, read_timeout=STREAM_READ_TIMEOUT
        )

    def seen(self, event: JobEvent) -> bool:
        """Note an event; True when it is the last one (``end``)."""
        self._failing_since = None
        if event.id is not None:
            self.last_event_id = event.id
        return event.kind == "end"

    def failed(self, error: Exception, now: float) -> float:
        """Seconds to wait before reopening; raises ``ConnectionFailed`` once the budget is spent."""
        self._failing_since = self._failing_since if self._failing_since is not None else now
        if now - self._failing_since > self._retry_seconds:
            raise ConnectionFailed(f"lost the event stream of job {self.job_id}: {error}") from error
        return REOPEN_SECONDS
