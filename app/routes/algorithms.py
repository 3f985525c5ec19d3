"""GET /algorithms."""

from __future__ import annotations

from typing import Any

from app.routes import services
from app.schemas.algorithms import AlgorithmSchema, describe
from app.web.api import RATE_LIMIT_HEADERS, Blueprint

blp = Blueprint("algorithms", __name__, description="What can be run")


@blp.route("/algorithms", methods=["GET"])
@blp.response(200, AlgorithmSchema(many=True), headers=RATE_LIMIT_HEADERS)
@blp.errors(401, 429)
def list_algorithms() -> list[dict[str, Any]]:
    """List the algorithms

    Each algorithm's name and version, what it does, and its params as JSON Schema (with an
    example that runs quickly).
    """
    return [describe(algorithm) for algorithm in services().catalog]
