"""The Python client of FunctionalScaffold.

    from app.client import Client
    job = Client().submit("PrimeChecker", {"number": 561}, wait=30)
    print(job.result)

Errors are ``ApiError`` subclasses named after the API's codes (``JobNotFound``, ``ValidationError``
with ``fields``, ``RateLimited`` with ``retry_after``...), each with the ``request_id``.
"""

from app.client.client import Client
from app.client.errors import (
    AlgorithmError,
    AlgorithmNotFound,
    ApiError,
    ClientError,
    ConnectionFailed,
    IdempotencyKeyReused,
    InternalError,
    JobAlreadyFinished,
    JobNotFinished,
    JobNotFound,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    UnexpectedResponse,
    UnsupportedMediaType,
    ValidationError,
    WaitTimeout,
    WebhookNotFound,
    WebhookVerificationError,
)
from app.client.models import Algorithm, Invocation, Job, Webhook, WebhookAttempt
from app.client.webhooks import verify_webhook

__all__ = [
    "Algorithm",
    "AlgorithmError",
    "AlgorithmNotFound",
    "ApiError",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "IdempotencyKeyReused",
    "InternalError",
    "Invocation",
    "Job",
    "JobAlreadyFinished",
    "JobNotFinished",
    "JobNotFound",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServiceUnavailable",
    "Unauthorized",
    "UnexpectedResponse",
    "UnsupportedMediaType",
    "ValidationError",
    "WaitTimeout",
    "Webhook",
    "WebhookAttempt",
    "WebhookNotFound",
    "WebhookVerificationError",
    "verify_webhook",
]
