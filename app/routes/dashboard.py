"""The operator's dashboard at ``/dashboard``: static pages of our own that call the public and admin API.

The pages hold no data and need no key to load: the script asks the operator for an admin key and
sends it (as ``Authorization``, never in a URL) with each API call, so the API's own checks decide
what is shown. This blueprint is registered on Flask directly, not on the API, so it stays out of
``/openapi.json`` (it is a browser UI, not part of the HTTP contract).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, redirect, request, send_from_directory, url_for
from werkzeug.wrappers import Response

#: Where the page, its stylesheet and scripts live (package data: see pyproject.toml).
ASSETS_DIR = Path(__file__).resolve().parent.parent / "static" / "dashboard"
#: The pages may load and call this server only; no inline script or style can run, so nothing
#: injected into a job's params or error text could execute.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Seconds browsers may keep the assets: short, so a new version shows on the next visit.
_MAX_AGE_SECONDS = 60

blp = Blueprint("dashboard", __name__)


@blp.route("/dashboard")
def dashboard_root() -> Response:
    """Redirect to ``/dashboard/`` so the page's relative asset URLs resolve (under ``/v1`` too)."""
    return redirect(url_for("dashboard.page"))


@blp.route("/dashboard/")
def page() -> Response:
    """The single page; its views (overview, jobs, a job, workers, batches) are chosen by the URL's fragment."""
    response = send_from_directory(ASSETS_DIR, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blp.route("/dashboard/<path:name>")
def asset(name: str) -> Response:
    """The stylesheet and scripts (404 for anything else; send_from_directory refuses paths outside)."""
    return send_from_directory(ASSETS_DIR, name, max_age=_MAX_AGE_SECONDS)


def init_app(app: Flask) -> None:
    """Serve the dashboard, with a strict Content-Security-Policy on everything it serves."""
    if not (ASSETS_DIR / "index.html").is_file():
        raise RuntimeError(f"dashboard assets missing in {ASSETS_DIR}: reinstall FunctionalScaffold")
    app.register_blueprint(blp)

    @app.after_request
    def _dashboard_headers(response: Response) -> Response:
        if request.blueprint == blp.name:
            response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
            response.headers["X-Content-Type-Options"] = "nosniff"
            response.headers["Referrer-Policy"] = "no-referrer"
        return response
