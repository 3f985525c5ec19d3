"""The docs for browsers: Swagger UI and ReDoc assets, served from installed packages so the docs work
offline, and ``/`` leading to Swagger UI."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from flask import Blueprint, Flask, abort, redirect, request, send_from_directory, url_for
from werkzeug.wrappers import Response

#: URL (relative to the docs pages, so it works under /v1 too) of each asset, and where it lives.
SWAGGER_UI_URL = "docs-assets/swagger/"
REDOC_URL = "docs-assets/redoc/redoc.standalone.js"
_ASSETS = {
    "swagger/swagger-ui.css": ("flask_openapi3_swagger", "templates/swagger/css/swagger-ui.css"),
    "swagger/swagger-ui-bundle.js": ("flask_openapi3_swagger", "templates/swagger/js/swagger-ui-bundle.js"),
    "swagger/swagger-ui-standalone-preset.js": (
        "flask_openapi3_swagger",
        "templates/swagger/js/swagger-ui-standalone-preset.js",
    ),
    "redoc/redoc.standalone.js": ("flask_openapi3_redoc", "templates/redoc/js/redoc.standalone.js"),
}
#: Seconds browsers may cache the assets: they change only with the package version.
_MAX_AGE_SECONDS = 24 * 3600
#: The docs pages may use this server only. ReDoc's sidebar hard-codes a logo from cdn.redoc.ly: this
#: policy stops the browser from fetching it (the logo hides itself when it cannot load).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
)
_DOC_PAGES = {"api-docs.openapi_swagger_ui", "api-docs.openapi_redoc"}


def _package_dir(package: str) -> Path:
    spec = find_spec(package)  # locate without importing: these packages are only asset carriers
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{package} is not installed: reinstall FunctionalScaffold")
    return Path(next(iter(spec.submodule_search_locations)))


def docs_config() -> dict[str, object]:
    """flask-smorest settings for /openapi.json, /docs and /redoc."""
    return {
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": SWAGGER_UI_URL,
        # No validator badge: it would call validator.swagger.io.
        "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
        "OPENAPI_REDOC_PATH": "redoc",
        "OPENAPI_REDOC_URL": REDOC_URL,
    }


def init_app(app: Flask) -> None:
    files = {name: _package_dir(package) / path for name, (package, path) in _ASSETS.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise RuntimeError(f"docs assets missing: {', '.join(missing)}")
    blp = Blueprint("docs_assets", __name__)

    @blp.route("/")
    def home() -> Response:
        """A browser at the API's root (``/`` or ``/v1/``) is shown the docs; not an API endpoint."""
        return redirect(url_for("api-docs.openapi_swagger_ui"))

    @blp.route("/docs-assets/<path:name>")
    def asset(name: str) -> Response:
        path = files.get(name)
        if path is None:
            abort(404)
        return send_from_directory(path.parent, path.name, max_age=_MAX_AGE_SECONDS)

    app.register_blueprint(blp)

    @app.after_request
    def _same_origin_only(response: Response) -> Response:
        if request.endpoint in _DOC_PAGES:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
