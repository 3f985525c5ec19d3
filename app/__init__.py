"""FunctionalScaffold: run registered algorithms behind an HTTP API, now or as queued jobs.

``create_app()`` builds the web app (gunicorn serves ``app:create_app()``); the Python client is
its own distribution, ``functionalscaffold_client`` (``client/``). The app is imported only when
asked for, so that the CLI starts fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "1.0.0"
__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
