"""GET /jobs/{id}/events: a job's status changes, progress and webhook attempts as Server-Sent
Events, live from real workers."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import dramatiq
from flask.testing import FlaskClient
from support import WebhookReceiver

#: Longest a test waits for one event: a job's run, or a webhook attempt, takes well under this.
EVENT_TIMEOUT = 20.0


@dataclass
class Sse:
    kind: str
    id: str | None
    data: dict


class Stream:
    """Reads a streamed response on a thread of its own, so that a test waits for events with a deadline."""

    def __init__(self, client: FlaskClient, path: str, headers: dict[str, str] | None = None) -> None:
        self.response = client.get(path, headers=headers or {}, buffered=False)
        self.events: queue.Queue[Sse | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self.response.response:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
                    if "event" in fields:
                        self.events.put(Sse(fields["event"], fields.get("id"), json.loads(fields["data"])))
        finally:
            self.events.put(None)  # the server closed the stream

    def next(self) -> Sse | None:
        return self.events.get(timeout=EVENT_TIMEOUT)

    def until(self, done: Callable[[Sse], bool]) -> list[Sse]:
        seen = []
        while True:
            event = self.next()
            assert event is not None, f"the stream ended before the awaited event; seen {[e.kind for e in seen]}"
            seen.append(event)
            if done(event):
                return seen

    def rest(self) -> Iterator[Sse]:
        while (event := self.next()) is not None:
            yield event


def _submit(client: FlaskClient, body: dict) -> str:
    answer = client.post("/jobs", json=body)
    assert answer.status_code == 202, answer.get_json()
    return answer.get_json()["job_id"]


def test_a_stream_starts_with_the_state_follows_the_job_and_ends(
    client: FlaskClient,
    worker: dramatiq.Worker,
    webhook_worker: dramatiq.Worker,
    webhook_receiver: WebhookReceiver,
) -> None:
    job_id = _submit(
        client,
        {"algorithm": "Sleeping", "params": {"seconds": 1}, "webhook": webhook_receiver.url(), "delay_seconds": 1},
    )
    stream = Stream(client, f"/jobs/{job_id}/events")
    assert stream.response.status_code == 200
    assert stream.response.headers["Content-Type"].startswith("text/event-stream")
    first = stream.next()
    assert first is not None and first.kind == "status" and first.data["status"] == "scheduled"
    seen = stream.until(lambda e: e.kind == "end")
    statuses = [e.data["status"] for e in seen if e.kind == "status"]
    assert statuses[-1] == "completed" and "running" in statuses
    assert statuses == sorted(statuses, key=["scheduled", "pending", "running", "completed"].index)
    [webhook] = [e for e in seen if e.kind == "webhook"]
    assert webhook.data["status_code"] == 200 and webhook.data["number"] == 1
    assert seen[-1].data == {"status": "completed"}
    ids = [int(e.id) for e in [first, *seen]]
    assert ids == sorted(ids)  # ids are the job's versions: they only go up
    assert list(stream.rest()) == []  # and the server closes the stream


def test_progress_reaches_the_job_and_its_event_stream(client: FlaskClient, worker: dramatiq.Worker) -> None:
    """PrimeChecker reports while it factors (in its algorithm process); the worker keeps a few
    reports a second; GET shows the latest, the stream each one kept."""
    number = 3 * (2**61 - 1) * (2**89 - 1)  # its large factors take the whole budget
    job_id = _submit(client, {"algorithm": "PrimeChecker", "params": {"number": number, "time_budget": 2}})
    stream = Stream(client, f"/jobs/{job_id}/events")
    seen = stream.until(lambda e: e.kind == "end")
    progress = [e.data for e in seen if e.kind == "progress"]
    assert len(progress) >= 2, [e.kind for e in seen]
    fractions = [p["fraction"] for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]
    assert all(p["message"].startswith("factoring") and p["updated_at"] for p in progress)
    job = client.get(f"/jobs/{job_id}").get_json()
    assert job["status"] == "completed" and job["progress"]["fraction"] == fractions[-1]


def test_reconnecting_with_last_event_id_sends_only_what_changed_since(
    client: FlaskClient, worker: dramatiq.Worker, webhook_worker: dramatiq.Worker, webhook_receiver: WebhookReceiver
) -> None:
    job_id = _submit(client, {"algorithm": "Sleeping", "params": {"seconds": 0.2}, "webhook": webhook_receiver.url()})
    seen = Stream(client, f"/jobs/{job_id}/events").until(lambda e: e.kind == "end")
    last = seen[-1]
    # Up to date: nothing but the end.
    again = list(Stream(client, f"/jobs/{job_id}/events", {"Last-Event-ID": last.id}).rest())
    assert [e.kind for e in again] == ["end"]
    # From before the webhook attempt: the current status, then that attempt, then the end.
    before = min(int(e.id) for e in seen if e.kind == "webhook") - 1
    resumed = list(Stream(client, f"/jobs/{job_id}/events", {"Last-Event-ID": str(before)}).rest())
    assert [e.kind for e in resumed] == ["status", "webhook", "end"]
    assert resumed[0].data["status"] == "completed"


def test_a_cancelled_job_ends_its_stream(client: FlaskClient, worker: dramatiq.Worker) -> None:
    job_id = _submit(client, {"algorithm": "Sleeping", "params": {"seconds": 60}})
    stream = Stream(client, f"/jobs/{job_id}/events")
    stream.until(lambda e: e.kind == "status" and e.data["status"] == "running")
    client.post(f"/jobs/{job_id}/cancel")
    seen = stream.until(lambda e: e.kind == "end")
    assert seen[-1].data == {"status": "cancelled"}
    assert any(e.kind == "status" and e.data["cancel_requested"] for e in seen)


def test_streams_beyond_the_limit_get_503_and_a_finished_stream_frees_its_place(
    make_client: Callable[..., FlaskClient],
) -> None:
    client = make_client(event_streams_max=1)
    first = _submit(client, {"algorithm": "Sleeping", "params": {"seconds": 1}, "delay_seconds": 600})
    held = Stream(client, f"/jobs/{first}/events")
    assert held.next().kind == "status"
    refused = client.get(f"/jobs/{first}/events")
    assert refused.status_code == 503
    body = refused.get_json()
    assert body["error"] == "SERVICE_UNAVAILABLE" and body["details"] == {"event_streams_max": 1}
    assert refused.headers["Retry-After"]
    client.post(f"/jobs/{first}/cancel")
    assert [e.kind for e in held.rest()] == ["status", "end"]
    second = Stream(client, f"/jobs/{first}/events")
    assert [e.kind for e in second.rest()] == ["status", "end"]


def test_unknown_jobs_and_bad_event_ids_are_refused_before_streaming(client: FlaskClient) -> None:
    assert client.get("/jobs/0123456789ab/events").status_code == 404
    job_id = _submit(client, {"algorithm": "PrimeChecker", "params": {"number": 7}, "delay_seconds": 600})
    bad = client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "VALIDATION_ERROR"


def test_a_client_cannot_follow_another_keys_job(make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(api_keys=("alice-0123456789", "bob-0123456789"))
    answer = client.post(
        "/jobs",
        json={"algorithm": "PrimeChecker", "params": {"number": 7}, "delay_seconds": 600},
        headers={"Authorization": "Bearer alice-0123456789"},
    )
    job_id = answer.get_json()["job_id"]
    assert client.get(f"/jobs/{job_id}/events", headers={"Authorization": "Bearer bob-0123456789"}).status_code == 404
