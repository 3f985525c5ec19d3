"""The client's exceptions: one class per error code of the API, plus what happens before an answer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functionalscaffold_client.models import Job


class ClientError(Exception):
    """Base of everything the client raises."""


class ConnectionFailed(ClientError):
    """The platform could not be reached (after the retries allowed)."""


class UnexpectedResponse(ClientError):
    """An answer that is not the platform's (not JSON, or not the fields it sends): a wrong URL?"""


class WaitTimeout(ClientError):
    """A job did not finish in the time given; ``job`` is how it last looked."""

    def __init__(self, job: Job, seconds: float) -> None:
        super().__init__(f"job {job.job_id} still {job.status} after {seconds:g} s")
        self.job = job


class WebhookVerificationError(ClientError):
    """A webhook's signature or timestamp does not check out: do not trust its body."""


class ApiError(ClientError):
    """An error answer of the API: its code, message, details and the id of the request."""

    code: str

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.message = message
        self.status = status
        self.code = code
        self.details = details or {}
        self.request_id = request_id
        self.retryable = retryable
        self.retry_after = retry_after


class ValidationError(ApiError):
    code = "VALIDATION_ERROR"

    @property
    def fields(self) -> dict[str, list[str]]:
        """Messages by field (dotted path), e.g. ``{"params.number": ["must be an integer"]}``."""
        errors: dict[str, list[str]] = self.details.get("errors", {})
        return errors


class Unauthorized(ApiError):
    code = "UNAUTHORIZED"


class NotFound(ApiError):
    code = "NOT_FOUND"


class AlgorithmNotFound(ApiError):
    code = "ALGORITHM_NOT_FOUND"

    @property
    def available(self) -> list[str]:
        """The algorithms the platform has, to say what the caller may have meant."""
        names: list[str] = self.details.get("available_algorithms", [])
        return names


class JobNotFound(ApiError):
    code = "JOB_NOT_FOUND"


class BatchNotFound(ApiError):
    code = "BATCH_NOT_FOUND"


class Forbidden(ApiError):
    code = "FORBIDDEN"


class WebhookNotFound(ApiError):
    code = "WEBHOOK_NOT_FOUND"


class MethodNotAllowed(ApiError):
    code = "METHOD_NOT_ALLOWED"


class IdempotencyKeyReused(ApiError):
    code = "IDEMPOTENCY_KEY_REUSED"


class JobAlreadyFinished(ApiError):
    code = "JOB_ALREADY_FINISHED"


class JobNotFinished(ApiError):
    code = "JOB_NOT_FINISHED"


class JobNotRetryable(ApiError):
    code = "JOB_NOT_RETRYABLE"


class PayloadTooLarge(ApiError):
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(ApiError):
    code = "UNSUPPORTED_MEDIA_TYPE"


class RateLimited(ApiError):
    code = "RATE_LIMIT_EXCEEDED"


class AlgorithmError(ApiError):
    code = "ALGORITHM_ERROR"


class InternalError(ApiError):
    code = "INTERNAL_ERROR"


class ServiceUnavailable(ApiError):
    code = "SERVICE_UNAVAILABLE"


_BY_CODE: dict[str, type[ApiError]] = {cls.code: cls for cls in ApiError.__subclasses__()}


def error_from_answer(
    status: int, reason: str, headers: Mapping[str, str], body: bytes, retry_after: float | None = None
) -> ApiError:
    """The exception for an error answer, its class from the body's ``error`` code.

    Takes the answer's parts rather than an HTTP library's response, so the sync and async
    clients (and anything else) build the very same exception.
    """
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        parsed = {}
    fields: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
    code = fields.get("error") or f"HTTP_{status}"
    cls = _BY_CODE.get(code, ApiError)
    return cls(
        fields.get("message") or reason or "error",
        status=status,
        code=code,
        details=fields.get("details"),
        request_id=fields.get("request_id") or headers.get("X-Request-ID"),
        retryable=bool(fields.get("retryable", status in (429, 503))),
        retry_after=retry_after,
    )
