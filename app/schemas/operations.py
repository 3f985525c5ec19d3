"""GET /workers and GET /queues: what an operator (an admin key) sees of the platform."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from app.schemas.fields import Timestamp
from app.services.operations import ClusterReport


class RunningJobSchema(Schema):
    job_id = fields.String(required=True)
    since = Timestamp(required=True, metadata={"description": "When its run started on this worker"})


class WorkerSchema(Schema):
    id = fields.String(required=True, metadata={"description": "host-pid-random: unique per process start"})
    host = fields.String(required=True)
    pid = fields.Integer(required=True)
    role = fields.String(required=True, metadata={"description": "jobs (runs algorithms) or webhooks (delivers them)"})
    threads = fields.Integer(required=True)
    slots = fields.Integer(required=True, metadata={"description": "Jobs it can run at once (algorithm slots)"})
    version = fields.String(required=True)
    started_at = Timestamp(required=True)
    heartbeat_at = Timestamp(required=True, metadata={"description": "Its last heartbeat"})
    heartbeat_age_seconds = fields.Float(required=True)
    stopping = fields.Boolean(metadata={"description": "It takes no new work and lets running jobs finish"})
    running = fields.List(
        fields.Nested(RunningJobSchema), load_default=list, metadata={"description": "Jobs it runs now"}
    )


class WorkerListSchema(Schema):
    workers = fields.List(fields.Nested(WorkerSchema), required=True)


class WindowSchema(Schema):
    completed = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)
    retried = fields.Integer(required=True, metadata={"description": "Failed runs scheduled to run again"})
    run_time_p50_seconds = fields.Float(allow_none=True, required=True)
    run_time_p95_seconds = fields.Float(allow_none=True, required=True)


class MinuteSchema(Schema):
    at = Timestamp(required=True, metadata={"description": "Start of the minute"})
    completed = fields.Integer(required=True)
    failed = fields.Integer(required=True)


class QueueSchema(Schema):
    name = fields.String(required=True, metadata={"description": "jobs or webhooks"})
    pending = fields.Integer(required=True, metadata={"description": "Waiting for a worker"})
    scheduled = fields.Integer(required=True, metadata={"description": "Waiting for their time (or next attempt)"})
    running = fields.Integer(required=True)
    oldest_pending_age_seconds = fields.Float(
        allow_none=True, required=True, metadata={"description": "How long the oldest pending one has waited"}
    )
    windows = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(WindowSchema),
        required=True,
        metadata={"description": "The last 1, 5 and 15 minutes (10 s coarse), by '1m', '5m', '15m'"},
    )
    history = fields.List(
        fields.Nested(MinuteSchema), required=True, metadata={"description": "The last 60 minutes, oldest first"}
    )


class WorkerTotalsSchema(Schema):
    online = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    slots = fields.Integer(required=True)
    slots_busy = fields.Integer(required=True)


class ClusterSchema(Schema):
    queues = fields.List(fields.Nested(QueueSchema), required=True)
    workers = fields.Nested(WorkerTotalsSchema, required=True)


def cluster_view(report: ClusterReport) -> dict[str, Any]:
    """What ClusterSchema dumps."""
    queues = []
    for queue in report.queues:
        windows = {
            f"{window.minutes}m": {
                **window.counts,
                "run_time_p50_seconds": window.p50_seconds,
                "run_time_p95_seconds": window.p95_seconds,
            }
            for window in queue.windows
        }
        queues.append(
            {
                "name": queue.state.name,
                "pending": queue.state.pending,
                "scheduled": queue.state.scheduled,
                "running": queue.state.running,
                "oldest_pending_age_seconds": queue.state.oldest_pending_seconds,
                "windows": windows,
                "history": [{"at": minute.at, **minute.counts} for minute in queue.history],
            }
        )
    workers = report.workers
    totals = {"online": workers.online, "slots": workers.slots, "slots_busy": workers.slots_busy}
    return {"queues": queues, "workers": totals}
