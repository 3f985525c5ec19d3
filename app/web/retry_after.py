"""Reading an HTTP ``Retry-After`` header: the client's reader, so the server and client agree on it."""

from functionalscaffold_client.retry_after import seconds_to_wait

__all__ = ["seconds_to_wait"]
