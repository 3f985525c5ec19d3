"""The operator's endpoints (admin keys): the worker processes alive, and the queues' state."""

from __future__ import annotations

from typing import Any

from app.routes import services
from app.schemas.operations import ClusterSchema, WorkerListSchema, cluster_view
from app.web.api import RATE_LIMIT_HEADERS, Blueprint
from app.web.auth import require_admin

blp = Blueprint("operations", __name__, description="See the whole platform (admin keys)")


@blp.route("/workers", methods=["GET"])
@blp.response(200, WorkerListSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 403, 429, 503)
def list_workers() -> dict[str, Any]:
    """List the worker processes

    Every worker process (running jobs or delivering webhooks, on any host) whose heartbeat is
    current: what it is and what it runs now. A worker that dies leaves the list once its heartbeat
    is older than `WORKER_LEASE_SECONDS`. Admin keys only.
    """
    require_admin()
    return {"workers": services().operations.workers()}


@blp.route("/queues", methods=["GET"])
@blp.response(200, ClusterSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 403, 429, 503)
def get_queues() -> dict[str, Any]:
    """See the queues

    Per queue (`jobs`, `webhooks`): how many wait, are scheduled, run; how long the oldest pending
    one has waited; completions, failures and run-time percentiles over the last 1, 5 and 15
    minutes; the last hour minute by minute. And the workers online. The same numbers as the
    gauges of /metrics. Admin keys only.
    """
    require_admin()
    return cluster_view(services().operations.report())
