"""Rate limits per API key (per client address when the API is open), shared through Redis.

Flask-Limiter does the counting and the ``X-RateLimit-*`` headers; over the limit it raises a 429,
which ``app.web.error_handlers`` renders as RATE_LIMIT_EXCEEDED with ``Retry-After``. When Redis does
not answer, requests are let through (the job endpoints then answer 503 on their own).
"""

from __future__ import annotations

import logging

from flask import Flask, Response, request
from flask_limiter import Limiter

from app.infra.config import Config
from app.services.auth import ANONYMOUS
from app.storage.redis import OUTAGE, UNAVAILABLE, limits_storage, where
from app.web.auth import current_principal, is_public

log = logging.getLogger(__name__)


class _OutageFilter(logging.Filter):
    """Flask-Limiter logs a traceback per request while Redis is down; the outage log says it once."""

    def __init__(self, location: str) -> None:
        super().__init__()
        self.location = location

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, UNAVAILABLE):
            OUTAGE.failed(error, self.location)
            return False
        return True


def _limit_key() -> str:
    principal = current_principal()
    return f"address:{request.remote_addr}" if principal is ANONYMOUS else f"key:{principal.id}"


def init_app(app: Flask, config: Config) -> Limiter | None:
    if not config.rate_limit:
        return None

    @app.after_request
    def _retry_after_only_when_limited(response: Response) -> Response:
        # Runs after Flask-Limiter's header hook (registered later), which sets Retry-After everywhere.
        if response.status_code != 429:
            response.headers.pop("Retry-After", None)
        return response

    limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(f, _OutageFilter) for f in limiter_log.filters):
        limiter_log.addFilter(_OutageFilter(where(config)))
    storage_uri, storage_options = limits_storage(config)
    return Limiter(
        _limit_key,
        app=app,
        # One budget per caller across every endpoint (Flask-Limiter's default limits are per route).
        application_limits=[config.rate_limit],
        application_limits_exempt_when=is_public,
        storage_uri=storage_uri,
        storage_options=storage_options,
        strategy="fixed-window",
        headers_enabled=True,
        swallow_errors=True,
        key_prefix=f"{config.redis_namespace}:rate",
    )
