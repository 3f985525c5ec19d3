"""The Python client of FunctionalScaffold.

    from app.client import Client
    job = Client().submit("PrimeChecker", {"number": 561}, wait=30)
    print(job.result)

Errors are ``ApiError`` subclasses named after the API's codes (``JobNotFound``, ``ValidationError``
with ``fields``, ``RateLimited`` with ``retry_after``...), each with the ``request_id``.
"""

from app.client.client import Client, job_body
from app.client.errors import (
    AlgorithmError,
    AlgorithmNotFound,
    ApiError,
    BatchNotFound,
    ClientError,
    ConnectionFailed,
    Forbidden,
    IdempotencyKeyReused,
    InternalError,
    JobAlreadyFinished,
    JobNotFinished,
    JobNotFound,
    JobNotRetryable,
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
from app.client.models import Algorithm, Attempt, Batch, Invocation, Job, JobEvent, Progress, Webhook, WebhookAttempt
from app.client.webhooks import verify_webhook

__all__ = [
    "Algorithm",
    "AlgorithmError",
    "AlgorithmNotFound",
    "ApiError",
    "Attempt",
    "Batch",
    "BatchNotFound",
    "Client",
    "ClientError",
    "ConnectionFailed",
    "Forbidden",
    "IdempotencyKeyReused",
    "InternalError",
    "Invocation",
    "Job",
    "JobAlreadyFinished",
    "JobEvent",
    "JobNotFinished",
    "JobNotFound",
    "JobNotRetryable",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "Progress",
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
    "job_body",
    "verify_webhook",
]
