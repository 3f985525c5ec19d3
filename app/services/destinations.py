"""Where a webhook may be sent: resolves its host once and refuses internal addresses (SSRF).

The same check runs at submission and at every delivery (DNS answers change); the delivery then
connects to the very address that was checked.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Ranges that `is_global` lets through but that reach internal hosts or embed other addresses.
_ALSO_FORBIDDEN = tuple(
    ipaddress.ip_network(net)
    for net in (
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.88.99.0/24",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "2001::/32",
        "2002::/16",
        "5f00::/16",
    )
)
_GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
#: getaddrinfo has no timeout of its own: lookups run here, and are abandoned when they take too long.
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dns")


class ForbiddenDestination(ValueError):
    """The URL's scheme or address is not allowed."""


class UnresolvableDestination(ValueError):
    """The host name did not resolve (in time)."""


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # as in the URL: the Host header, TLS SNI and certificate name
    port: int
    address: str  # the checked IP address to connect to
    target: str  # path and query, as sent in the request line


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local (169.254.169.254 included), multicast, unspecified, reserved...

    IPv6 must be global unicast (2000::/3): IPv4-compatible, -translated, site-local and the like,
    which can lead back to internal IPv4 hosts, are refused.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address not in _GLOBAL_UNICAST_V6:
            return True
    return not address.is_global or address.is_multicast or any(address in net for net in _ALSO_FORBIDDEN)


def check_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ForbiddenDestination(f"scheme {scheme!r} is not allowed: use http or https")


def resolve(url: str, allow_private: bool, timeout: float) -> Destination:
    """Resolve the URL's host and pick the address to connect to.

    Every address the name resolves to must be allowed (unless ``allow_private``); raises
    ``ForbiddenDestination`` or ``UnresolvableDestination``.
    """
    check_scheme(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout:
        raise UnresolvableDestination(f"{host} did not resolve within {timeout:.1f}s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableDestination(f"{host} does not resolve ({exc})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not allow_private:
        forbidden = [a for a in addresses if is_forbidden(a)]
        if forbidden:
            raise ForbiddenDestination(f"{host} resolves to {forbidden[0]}, an internal address")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(parts.scheme, host, port, str(addresses[0]), target)
