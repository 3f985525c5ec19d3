"""Counts every HTTP request, matched or not, under the API reference's metric names."""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from app.infra.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS, HTTP_REQUESTS_IN_PROGRESS

#: Label of requests that matched no route: raw paths would let any client create label values.
UNMATCHED = "<unmatched>"
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
#: Methods labelled as themselves; any other is "OTHER", so that clients cannot invent label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()
        g.metrics_in_progress = True
        HTTP_REQUESTS_IN_PROGRESS.inc()

    @app.after_request
    def _count(response: Response) -> Response:
        # Runs for error responses too (handlers turn exceptions into responses first): count here only.
        started = g.pop("metrics_started", None)
        if started is not None:
            method = request.method if request.method in _METHODS else "OTHER"
            counter, histogram = _series(method, _endpoint_label(), response.status_code < 400)
            counter.inc()
            histogram.observe(time.perf_counter() - started)
        return response

    @app.teardown_request
    def _finish(_exc: BaseException | None) -> None:
        if g.pop("metrics_in_progress", False):
            HTTP_REQUESTS_IN_PROGRESS.dec()


@functools.cache
def _series(method: str, endpoint: str, success: bool) -> tuple[Any, Any]:
    """The labelled counter and histogram of one kind of request (a bounded set: methods × routes × 2)."""
    status = "success" if success else "error"
    return (
        HTTP_REQUESTS.labels(method=method, endpoint=endpoint, status=status),
        HTTP_REQUEST_DURATION.labels(method=method, endpoint=endpoint),
    )


@functools.cache
def _label_of_rule(rule: str) -> str:
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def _endpoint_label() -> str:
    rule = request.url_rule
    return _label_of_rule(rule.rule) if rule is not None else UNMATCHED


def render_metrics(cluster: Iterable[Collector], accept: str | None) -> tuple[bytes, str]:
    """The Prometheus exposition: this host's HTTP metrics and the ``cluster`` collectors."""
    registry = CollectorRegistry(auto_describe=False)
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        # gunicorn: add up what every worker process of this host wrote to the directory.
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)
    for collector in cluster:
        registry.register(collector)
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
