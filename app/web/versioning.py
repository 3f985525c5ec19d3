"""Serves every path under ``/v1`` too, with the same behaviour as the unversioned path.

The prefix moves from ``PATH_INFO`` to ``SCRIPT_NAME`` (as a reverse proxy mounting the app at
``/v1`` would do), so routes match once and every URL the app builds (``Location``, the docs' spec
URL) stays under the version the client used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: The current API version's path prefix.
VERSION_PREFIX = "/v1"


class VersionPrefix:
    """WSGI middleware: ``/v1/x`` is served as ``/x`` mounted at ``/v1``."""

    def __init__(self, wsgi_app: Any, prefix: str = VERSION_PREFIX) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
        return self.wsgi_app(environ, start_response)
