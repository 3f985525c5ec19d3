"""``create_app()``: the Flask app, from its configuration (gunicorn serves ``app:create_app()``)."""

from __future__ import annotations

from flask import Flask

from app import __version__
from app.infra.config import Config
from app.routes import EXTENSION_KEY, algorithms, batches, dashboard, health, invoke, jobs, operations
from app.web import auth, docs, http_metrics, openapi, rate_limits, request_id
from app.web.api import Api
from app.web.versioning import VersionPrefix
from app.wiring import Services, build_services


def create_app(config: Config | None = None, services: Services | None = None) -> Flask:
    """Build the Flask app from ``config`` (default: the environment).

    Nothing here talks to Redis, so the app starts (and /healthz answers) while Redis is down.
    """
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config.update(
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        API_TITLE="FunctionalScaffold",
        API_VERSION=__version__,
        OPENAPI_VERSION="3.0.3",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Run registered algorithms now (`/invoke`) or as queued jobs "
                "(`/jobs`) with webhooks. Every path is also served under `/v1`."
            },
            "servers": [
                {"url": "/v1", "description": "version 1"},
                {"url": "/", "description": "unversioned (same as /v1)"},
            ],
        },
        **docs.docs_config(),
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    services = services or build_services(config)
    app.extensions[EXTENSION_KEY] = services

    request_id.init_app(app)
    http_metrics.init_app(app)
    auth.identify(app)
    rate_limits.init_app(app, config)
    auth.enforce(app)
    # A key is needed when keys are configured (/healthz, /readyz, /metrics and the docs never need one).
    api = Api(app, security=lambda: openapi.security(services.auth))
    for blueprint in (invoke.blp, jobs.blp, batches.blp, operations.blp, algorithms.blp, health.blp):
        api.register_blueprint(blueprint)
    api.spec.components.security_scheme(openapi.API_KEY, openapi.SECURITY_SCHEME)
    openapi.document_algorithms(
        api.spec,
        api.ma_plugin.converter,
        services.catalog,
        services.config.job_timeout_max_seconds,
        services.config.schedule_horizon_seconds,
    )
    docs.init_app(app)
    dashboard.init_app(app)  # on Flask, not the API: a browser UI stays out of /openapi.json
    app.wsgi_app = VersionPrefix(app.wsgi_app)  # type: ignore[method-assign]
    return app
