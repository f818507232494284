"""Which feed URLs Herald may fetch: http(s) only, and never an address inside the council's (or
the host's) own networks unless `HERALD_ALLOW_PRIVATE_NETWORKS=1` (issue 5 §6: a feed URL must
not turn Herald into a probe of internal services or cloud metadata).

The check resolves the host and refuses if any address is not globally routable; the fetcher
runs it again on every redirect hop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from services.feed_ingest.errors import FeedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

ALLOW_HINT = "set HERALD_ALLOW_PRIVATE_NETWORKS=1 to allow it"


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or `FeedError("bad_url")` saying what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise FeedError("bad_url", f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme!r}" if scheme else "none"
        raise FeedError("bad_url", f"only http and https feed URLs are allowed (scheme: {shown}): {url}")
    if not parts.hostname:
        raise FeedError("bad_url", f"feed URL has no host: {url}")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def address_problem(address: IPAddress) -> str | None:
    """Why an address is off limits ("a loopback address"), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for test, words in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),  # includes 169.254.169.254, cloud metadata
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_reserved", "a reserved"),
        ("is_private", "a private"),
    ):
        if getattr(address, test):
            return f"{words} address"
    if not address.is_global:  # e.g. 100.64.0.0/10 carrier-grade NAT
        return "a non-public address"
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


async def check_url(url: str, *, allow_private: bool, resolver: Resolver = system_resolver) -> None:
    """Raise `FeedError` if Herald must not fetch `url`; return quietly if it may."""
    _, host, port = split_url(url)
    if allow_private:
        return
    literal = _as_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [
                ip for ip in (_as_address(raw) for raw in await resolver(host, port)) if ip is not None
            ]
        except (OSError, UnicodeError) as exc:
            raise FeedError("unresolvable", f"cannot resolve feed host {host!r}: {exc}") from None
        if not addresses:
            raise FeedError("unresolvable", f"feed host {host!r} has no addresses")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            via = "is" if literal is not None else f"resolves to {address},"
            raise FeedError("unsafe_address", f"refused {url}: host {host!r} {via} {problem} ({ALLOW_HINT})")


def _as_address(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None
