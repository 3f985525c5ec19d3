"""POST /invoke."""

from __future__ import annotations

from typing import Any

from app.routes import services
from app.schemas.invoke import InvokeRequestSchema, InvokeResponseSchema
from app.web import openapi
from app.web.api import RATE_LIMIT_HEADERS, Blueprint
from app.web.request_id import current_request_id

blp = Blueprint("invoke", __name__, description="Run an algorithm and wait for its result")


@blp.route("/invoke", methods=["POST"])
@blp.arguments(
    InvokeRequestSchema,
    examples={
        "short form (PrimeChecker)": {"value": {"number": 17}},
        "general form": {"value": {"algorithm": "PrimeChecker", "params": {"number": 561}}},
    },
)
@blp.doc(requestBody=openapi.body(openapi.INVOKE_REQUEST))  # each algorithm's params, built by create_app
@blp.response(200, InvokeResponseSchema, headers=RATE_LIMIT_HEADERS)
@blp.errors(400, 401, 404, 413, 415, 429, 500)
def invoke(body: dict[str, Any]) -> dict[str, Any]:
    """Run an algorithm synchronously

    Send `{"algorithm": name, "params": {...}}`, or the params alone (`{"number": 17}`), which
    PrimeChecker runs. Params are validated against the algorithm's schema first (400
    VALIDATION_ERROR naming the field); an exception in the algorithm is 500 ALGORITHM_ERROR.
    """
    execution = services().invocation.invoke(body["algorithm"], body["params"], body["params_path"])
    return {
        "request_id": current_request_id(),
        "status": "success",
        "result": execution.result,
        "metadata": execution.metadata,
    }
