"""The Python client of FunctionalScaffold, sync and async.

    from functionalscaffold_client import Client
    job = Client().submit("PrimeChecker", {"number": 561}, wait=30)
    print(job.result)

    from functionalscaffold_client import AsyncClient
    async with AsyncClient() as client:
        job = await client.submit("PrimeChecker", {"number": 561}, wait=30)

Errors are ``ApiError`` subclasses named after the API's codes (``JobNotFound``, ``ValidationError``
with ``fields``, ``RateLimited`` with ``retry_after``...), each with the ``request_id``; both clients
raise the same ones.
"""

from typing import TYPE_CHECKING

from functionalscaffold_client._calls import job_body
from functionalscaffold_client._version import __version__
from functionalscaffold_client.errors import (
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
from functionalscaffold_client.models import (
    Algorithm,
    Attempt,
    Batch,
    Invocation,
    Job,
    JobEvent,
    Progress,
    Webhook,
    WebhookAttempt,
)
from functionalscaffold_client.webhooks import verify_webhook

if TYPE_CHECKING:
    from functionalscaffold_client.async_client import AsyncClient
    from functionalscaffold_client.client import Client


def __getattr__(name: str) -> object:
    """``Client`` and ``AsyncClient`` import httpx when first asked for: a program that needs only
    the errors, models, webhook verification or ``retry_after`` (the server's workers) never pays
    for it (~100 ms at start)."""
    if name == "Client":
        from functionalscaffold_client.client import Client

        return Client
    if name == "AsyncClient":
        from functionalscaffold_client.async_client import AsyncClient

        return AsyncClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Algorithm",
    "AlgorithmError",
    "AlgorithmNotFound",
    "ApiError",
    "AsyncClient",
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
    "__version__",
    "job_body",
    "verify_webhook",
]
