"""HTTP plumbing around the routes: authentication, rate limits, request ids, ``/v1``, the request
parser and Blueprint, the error renderer, HTTP metrics, the OpenAPI spec and its docs pages; and
reading a ``Retry-After`` header (the webhook sender's).

The app factory and the routes use these; services and storage do not.
"""
