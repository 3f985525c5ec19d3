"""The one place that renders errors: every failure becomes the same JSON body.

``{"error": CODE, "message": ..., "details": {...}, "request_id": ..., "retryable": bool}``
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from app.domain.errors import (
    InternalError,
    InvalidRequest,
    MethodNotAllowed,
    OtherClientError,
    PayloadTooLarge,
    RateLimited,
    RouteNotFound,
    ServiceError,
    UnsupportedMediaType,
)
from app.web.request_id import current_request_id

log = logging.getLogger(__name__)


def render(error: ServiceError) -> Response:
    response = jsonify(
        error=error.code,
        message=error.message,
        details=error.details,
        request_id=current_request_id(),
        retryable=error.retryable,
    )
    response.status_code = error.status
    response.headers.update(error.headers())
    return response


def _from_http_exception(exc: HTTPException) -> ServiceError:
    """Werkzeug's own errors (routing, body size...) in the API's terms."""
    if exc.code == 404:
        return RouteNotFound(f"No endpoint at {request.path}")
    if exc.code == 405:
        return MethodNotAllowed(request.method, sorted(getattr(exc, "valid_methods", None) or []))
    if exc.code == 413:
        return PayloadTooLarge(current_app.config["MAX_CONTENT_LENGTH"])
    if exc.code == 415:
        return UnsupportedMediaType()
    if exc.code == 429:
        return RateLimited(exc.description or "too many requests")
    if exc.code == 400:
        return InvalidRequest(exc.description)
    if exc.code is not None and 400 <= exc.code < 500:
        return OtherClientError(exc.code, exc.name, exc.description or exc.name)
    log.error("HTTP error %s raised inside the app: %s", exc.code, exc.description)
    return InternalError()


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, render)
    app.register_error_handler(HTTPException, lambda exc: render(_from_http_exception(exc)))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error serving %s %s (request %s)", request.method, request.path, current_request_id())
        return render(InternalError())
