"""WebhookSender: one POST to a receiver, to the address that was checked, within a hard deadline.

Standard library HTTP on purpose: the host is resolved and checked once (``destinations``), the
connection goes to that address (no second lookup) while Host, SNI and the certificate check keep
the name; no redirect is followed, no proxy or .netrc is consulted, the answer's body is not read,
and a watchdog cuts the connection when the total time runs out, which per-read timeouts alone
cannot do against a receiver that answers a byte at a time.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time

from app import __version__
from app.services import destinations
from app.services.webhooks import Delivery, Outcome
from app.web.retry_after import seconds_to_wait

USER_AGENT = f"FunctionalScaffold-Webhooks/{__version__}"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address`` while speaking to ``host`` (the Host header keeps the name)."""

    def __init__(self, destination: destinations.Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self._address = destination.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def cut(self) -> None:
        """Called by the watchdog from another thread: unblocks any read or write at once."""
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = http.client.HTTPS_PORT  # so that the Host header leaves out :443

    def __init__(self, destination: destinations.Destination, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(destination, timeout)
        self._context = context

    def connect(self) -> None:
        super().connect()
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.host)


class WebhookSender:
    def __init__(self, timeout_seconds: float, allow_private_networks: bool) -> None:
        self.timeout_seconds = timeout_seconds
        self.allow_private_networks = allow_private_networks
        self._tls = ssl.create_default_context()

    def send(self, delivery: Delivery) -> Outcome:
        """POST the delivery once; never raises for what the network or the receiver does."""
        started = time.monotonic()
        deadline = started + self.timeout_seconds

        def outcome(**kwargs: object) -> Outcome:
            return Outcome(duration=time.monotonic() - started, **kwargs)

        try:
            destination = destinations.resolve(delivery.url, self.allow_private_networks, self.timeout_seconds)
        except destinations.ForbiddenDestination:
            return outcome(error="forbidden_address", retryable=False)
        except destinations.UnresolvableDestination:
            return outcome(error="dns")
        remaining = max(0.001, deadline - time.monotonic())
        if destination.scheme == "https":
            connection = _PinnedHTTPSConnection(destination, remaining, self._tls)
        else:
            connection = _PinnedHTTPConnection(destination, remaining)
        watchdog = threading.Timer(remaining, connection.cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.request(
                "POST",
                destination.target,
                body=delivery.body.encode(),
                headers={**delivery.headers, "User-Agent": USER_AGENT},
            )
            response = connection.getresponse()
            return outcome(status_code=response.status, retry_after=seconds_to_wait(response.getheader("Retry-After")))
        except TimeoutError:
            return outcome(error="timeout")
        except ConnectionRefusedError:
            return outcome(error="connection_refused")
        except (ssl.SSLError, ssl.CertificateError):
            return outcome(error="tls")
        except (OSError, http.client.HTTPException):
            return outcome(error="timeout" if time.monotonic() >= deadline else "connection_error")
        except ValueError:  # a URL that cannot go on the wire (submission refuses these; old jobs may hold one)
            return outcome(error="invalid_url", retryable=False)
        finally:
            watchdog.cancel()
            connection.close()
