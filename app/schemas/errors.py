"""The one error body, as documented in the OpenAPI spec (``app.web.error_handlers`` renders it)."""

from marshmallow import Schema, fields


class ErrorSchema(Schema):
    error = fields.String(
        required=True,
        metadata={
            "description": "Error code: VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, ALGORITHM_NOT_FOUND, "
            "JOB_NOT_FOUND, BATCH_NOT_FOUND, WEBHOOK_NOT_FOUND, NOT_FOUND, METHOD_NOT_ALLOWED, "
            "IDEMPOTENCY_KEY_REUSED, JOB_ALREADY_FINISHED, JOB_NOT_FINISHED, JOB_NOT_RETRYABLE, PAYLOAD_TOO_LARGE, "
            "UNSUPPORTED_MEDIA_TYPE, RATE_LIMIT_EXCEEDED, ALGORITHM_ERROR, INTERNAL_ERROR, SERVICE_UNAVAILABLE",
            "example": "VALIDATION_ERROR",
        },
    )
    message = fields.String(required=True, metadata={"example": "number must be an integer"})
    details = fields.Dict(
        required=True,
        metadata={
            "description": "Specifics: the failing field and value, the available algorithms...",
            "example": {"field": "number", "value": "abc", "errors": {"number": ["must be an integer"]}},
        },
    )
    request_id = fields.String(required=True, metadata={"description": "Also in the X-Request-ID header"})
    retryable = fields.Boolean(
        required=True, metadata={"description": "Whether the same request can succeed if tried again later"}
    )
