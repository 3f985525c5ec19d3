"""Request authentication: who the caller is (``current_owner``), for every endpoint but probes and docs.

Identification runs before the rate limiter (so a caller is limited under its key, and bad keys
under their address), and the 401 is raised after it (so guessing keys is rate limited too).
"""

from __future__ import annotations

from flask import Flask, g, request

from app.domain.errors import Forbidden, ServiceError
from app.routes import services
from app.services.auth import ANONYMOUS, Principal

#: Endpoints anyone may call: probes, metrics, the documentation, and the dashboard's static pages
#: (which hold no data: their script sends the operator's key with each API call).
PUBLIC_ENDPOINTS = {"health.healthz", "health.readyz", "health.metrics"}
PUBLIC_BLUEPRINTS = {"api-docs", "docs_assets", "dashboard"}


def is_public() -> bool:
    endpoint = request.endpoint or ""
    return endpoint in PUBLIC_ENDPOINTS or endpoint.partition(".")[0] in PUBLIC_BLUEPRINTS


def current_principal() -> Principal:
    return g.get("principal", ANONYMOUS)


def current_owner() -> str:
    """Owner id of the jobs the caller creates."""
    return current_principal().id


def visible_owner() -> str | None:
    """Whose jobs and batches the caller may see and act on: its own, or (an admin) anyone's: None."""
    principal = current_principal()
    return None if principal.is_admin else principal.id


def require_admin() -> None:
    """Raise 403 ``FORBIDDEN`` unless the caller is an admin (everyone is, while the API is open)."""
    if not current_principal().is_admin:
        raise Forbidden(
            "This needs an admin API key (ADMIN_API_KEYS, or `functionalscaffold keys create --admin`)",
            {"role": current_principal().role},
        )


def identify(app: Flask) -> None:
    @app.before_request
    def _identify() -> None:
        g.principal, g.auth_error = ANONYMOUS, None
        if is_public():
            return
        try:
            g.principal = services().auth.authenticate(request.headers.get("Authorization"))
        except ServiceError as exc:  # UNAUTHORIZED, or SERVICE_UNAVAILABLE when Redis cannot tell
            g.auth_error = exc


def enforce(app: Flask) -> None:
    @app.before_request
    def _enforce() -> None:
        error = g.get("auth_error")
        if error is not None:
            raise error
