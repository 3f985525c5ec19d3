"""X-Request-ID: every response carries one; a client's own (if well-formed) is used and echoed."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-ID"
#: What a client-supplied id may look like; anything else is replaced by a fresh UUID.
_ACCEPTED = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def current_request_id() -> str:
    """The id of the request being served ("-" outside a request)."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        g.request_id = _choose(request.headers.get(HEADER))
    return g.request_id


def _choose(supplied: str | None) -> str:
    if supplied and _ACCEPTED.match(supplied):
        return supplied
    return str(uuid.uuid4())


def init_app(app: Flask) -> None:
    @app.before_request
    def _assign() -> None:
        current_request_id()

    @app.after_request
    def _echo(response: Response) -> Response:
        response.headers[HEADER] = current_request_id()
        return response
