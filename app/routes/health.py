"""GET /healthz, /readyz and /metrics: for probes and for Prometheus."""

from __future__ import annotations

import time
from typing import Any

from flask import Response, request

from app.routes import services
from app.schemas.health import HealthSchema, ReadinessSchema
from app.web.api import Blueprint
from app.web.http_metrics import render_metrics

blp = Blueprint("health", __name__, description="Probes and metrics")


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.doc(security=[])
def healthz() -> dict[str, Any]:
    """Liveness: the process serves requests (says nothing of Redis)"""
    return {"status": "healthy", "timestamp": time.time()}


@blp.route("/readyz", methods=["GET"])
@blp.response(200, ReadinessSchema)
@blp.doc(security=[])
@blp.errors(503)
def readyz() -> dict[str, Any]:
    """Readiness: Redis answers and algorithms are loaded; 503 with the failing checks otherwise"""
    return {"status": "ready", "timestamp": time.time(), "checks": services().health.readiness()}


@blp.route("/metrics", methods=["GET"])
@blp.doc(
    security=[],
    responses={
        "200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
    },
)
def metrics() -> Response:
    """Prometheus metrics: HTTP metrics of this host, job and algorithm metrics of the whole cluster"""
    body, content_type = render_metrics(services().metric_collectors, request.headers.get("Accept"))
    return Response(body, content_type=content_type)
