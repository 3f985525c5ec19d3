"""HTTP endpoints: each parses with a schema, calls a service and returns a schema."""

from flask import current_app

from app.wiring import Services

#: Key of the process's services in ``app.extensions``.
EXTENSION_KEY = "functionalscaffold"


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
