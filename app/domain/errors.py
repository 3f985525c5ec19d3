"""The platform's errors: one class per error code of the API, each with its HTTP status.

Services and storage raise these; ``app.web.error_handlers`` alone turns them into the error body.
No Flask here, so workers use the same classes.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base of every error a client may see. ``code`` is the wire value of the ``error`` field."""

    code: str = "INTERNAL_ERROR"
    status: int = 500
    #: Whether the same request may succeed if tried again later.
    retryable: bool = False
    default_message: str = "Internal server error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Extra response headers this error calls for."""
        return {}


class InvalidRequest(ServiceError):
    """The request or the algorithm params failed validation; ``details`` names the fields."""

    code = "VALIDATION_ERROR"
    status = 400
    default_message = "Request validation failed"


class Unauthorized(ServiceError):
    """No API key, or one that is not (or no longer) valid."""

    code = "UNAUTHORIZED"
    status = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="FunctionalScaffold"'}


class Forbidden(ServiceError):
    """The caller is known but may not do this (a client key on an admin endpoint, a priority above
    its key's limit)."""

    code = "FORBIDDEN"
    status = 403
    default_message = "This API key may not do that"


class RateLimited(ServiceError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429
    retryable = True

    def __init__(self, limit: str) -> None:
        super().__init__(f"Rate limit exceeded: {limit}; retry after the time in Retry-After", {"limit": limit})


class IdempotencyKeyReused(ServiceError):
    code = "IDEMPOTENCY_KEY_REUSED"
    status = 409

    def __init__(self, job_id: str) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request; use a new key for a new job",
            {"job_id": job_id},
        )


class JobAlreadyFinished(ServiceError):
    code = "JOB_ALREADY_FINISHED"
    status = 409

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"Job {job_id!r} has already finished ({status})", {"status": status})


class JobNotRetryable(ServiceError):
    code = "JOB_NOT_RETRYABLE"
    status = 409

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(
            f"Job {job_id!r} is {status}: only a failed or cancelled job can be retried", {"status": status}
        )


class AlgorithmNotFound(ServiceError):
    code = "ALGORITHM_NOT_FOUND"
    status = 404

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"Algorithm {name!r} not found", {"available_algorithms": available})


class JobNotFound(ServiceError):
    code = "JOB_NOT_FOUND"
    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} does not exist or has expired")


class BatchNotFound(ServiceError):
    code = "BATCH_NOT_FOUND"
    status = 404

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"Batch {batch_id!r} does not exist or has expired")


class WebhookNotFound(ServiceError):
    code = "WEBHOOK_NOT_FOUND"
    status = 404

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} has no webhook")


class JobNotFinished(ServiceError):
    code = "JOB_NOT_FINISHED"
    status = 409
    retryable = True

    def __init__(self, job_id: str) -> None:
        super().__init__(f"Job {job_id!r} has not finished yet: its webhook is sent when it does")


class RouteNotFound(ServiceError):
    code = "NOT_FOUND"
    status = 404
    default_message = "No such endpoint"


class MethodNotAllowed(ServiceError):
    code = "METHOD_NOT_ALLOWED"
    status = 405

    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"Method {method} is not allowed here", {"allowed_methods": allowed})
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class PayloadTooLarge(ServiceError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"Request body exceeds the limit of {limit_bytes} bytes", {"max_body_bytes": limit_bytes})


class UnsupportedMediaType(ServiceError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    default_message = "Request body must be JSON (Content-Type: application/json)"


class OtherClientError(ServiceError):
    """Any other 4xx that werkzeug raises: keeps its status, with a code made from its name."""

    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = name.upper().replace(" ", "_").replace("'", "")


class AlgorithmFailed(ServiceError):
    """The algorithm raised; ``message`` says what it raised, never a traceback."""

    code = "ALGORITHM_ERROR"
    status = 500


class InternalError(ServiceError):
    code = "INTERNAL_ERROR"
    status = 500
    retryable = True


class ServiceUnavailable(ServiceError):
    """A dependency (Redis) is unreachable; the same request should work once it is back."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    retryable = True
    default_message = "Service temporarily unavailable, please retry later"
    #: Seconds a client should wait before retrying.
    retry_after_seconds: int = 1

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_seconds)}


class NotReplicated(ServiceUnavailable):
    """A new job is on the Redis master, but fewer replicas than REDIS_MIN_REPLICAS confirmed it in time."""

    def __init__(self, replicas: int, confirmed: int) -> None:
        super().__init__(
            f"The job is not yet on {replicas} Redis replica(s) ({confirmed} confirmed it in time): retry with "
            "the same Idempotency-Key, which answers with this job instead of making another"
        )


class StorageUnavailable(ServiceUnavailable):
    """Redis did not answer: raised by ``app.storage`` from the redis-py error."""


class TooManyStreams(ServiceUnavailable):
    """This web process holds as many event streams as it may; another process (or later) can."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"This server process holds its limit of {limit} event streams (EVENT_STREAMS_MAX); retry shortly",
            {"event_streams_max": limit},
        )
