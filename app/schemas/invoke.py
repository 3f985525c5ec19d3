"""POST /invoke: request and response."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, pre_load, validate

#: The algorithm run by the API reference's short form, ``{"number": 17}``.
SHORTHAND_ALGORITHM = "PrimeChecker"


class InvokeRequestSchema(Schema):
    """``{"algorithm": name, "params": {...}}``, or the params alone (run by PrimeChecker)."""

    algorithm = fields.String(
        required=True, validate=validate.Length(min=1, max=64), metadata={"example": "PrimeChecker"}
    )
    params = fields.Dict(required=True, metadata={"example": {"number": 17}})

    @pre_load
    def _expand_shorthand(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and "algorithm" not in data:
            return {"algorithm": SHORTHAND_ALGORITHM, "params": data}
        return data

    @post_load(pass_original=True)
    def _params_path(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        # Where params sit in the body, so that errors name "number" in the short form.
        data["params_path"] = "params" if "algorithm" in original else ""
        return data


class MetadataSchema(Schema):
    algorithm = fields.String(metadata={"example": "PrimeChecker"})
    version = fields.String(metadata={"example": "1.0.0"})
    elapsed_time = fields.Float(metadata={"description": "Seconds the algorithm ran", "example": 0.001})


class InvokeResponseSchema(Schema):
    request_id = fields.String(required=True)
    status = fields.String(required=True, metadata={"example": "success"})
    result = fields.Dict(
        required=True,
        metadata={"example": {"number": 17, "is_prime": True, "factors": [], "algorithm": "trial_division"}},
    )
    metadata = fields.Nested(MetadataSchema, required=True)
