"""Which URLs Herald may fetch: http(s) only, and never an address inside the council's (or the
host's) own networks unless `HERALD_ALLOW_PRIVATE_NETWORKS=1` (issue 5 §6: a URL from a feed —
the feed's own, or an item's image that the publisher uploads — must not turn Herald into a probe
of internal services or cloud metadata). Used by feed_ingest's fetcher and the publisher's image
fetcher; both build their aiohttp session with `vetted_session`.

Two layers:
- `check_url` (before a request, and on every redirect hop): scheme and host, and — for quick,
  clear errors — the host's addresses.
- `VettingResolver` (the fetcher's aiohttp resolver, DNS cache off): resolves the host ONCE when a
  connection is opened, refuses if any address is off limits, and hands aiohttp only the vetted
  addresses, which it connects to without another lookup. aiohttp never asks a resolver about an
  IP-literal host, so `VettingResolver.socket_for` (the session's socket factory) vets the address
  of every socket before it connects: literal hosts are refused there, once per connection (a
  request middleware did it per request and cost a fifth of a 304 poll's CPU). TLS still uses
  the URL's host name (SNI and certificate check), and the Host header is the URL's. So there is
  no DNS-rebinding gap: the address checked is the address connected to; a second lookup that
  answers 127.0.0.1 is never made.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
UnsafeURLKind = Literal["bad_url", "unsafe_address", "unresolvable"]


class UnsafeURL(Exception):
    """Herald must not (or cannot) fetch this URL; `kind` is a short code, `reason` a sentence a
    person can act on. feed_ingest reports it as a `FeedError` of the same kind."""

    def __init__(self, kind: UnsafeURLKind, reason: str) -> None:
        super().__init__(reason)
        self.kind: UnsafeURLKind = kind
        self.reason = reason


Resolver = Callable[[str, int], Awaitable[list[str]]]

#: How many vetted connections `VettingResolver.connections` remembers.
RECENT_CONNECTIONS = 256

ALLOW_HINT = "set HERALD_ALLOW_PRIVATE_NETWORKS=1 to allow it"

#: Cloud metadata services, named in refusals (most are link-local or private anyway; a few are
#: not, e.g. Alibaba's 100.100.100.200 is carrier-grade NAT space).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "169.254.169.123")
)
#: Ranges Python's `is_global` calls global but that must never be fetched.
_EXTRA_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "64:ff9b:1::/48",  # local-use NAT64
        "2002::/16",  # 6to4: embeds an arbitrary IPv4 address
    )
)


@functools.lru_cache(maxsize=16384)
def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL, or `UnsafeURL("bad_url")` saying what is wrong.

    Cached (pure; a refused URL is not cached and raises again): every poll of a feed asks about
    the same URL, and `urlsplit` with its port check was a tenth of a 304 poll's fetch."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("bad_url", f"invalid URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f"{scheme!r}" if scheme else "none"
        raise UnsafeURL("bad_url", f"only http and https URLs are allowed (scheme: {shown}): {url}")
    if not parts.hostname:
        raise UnsafeURL("bad_url", f"URL has no host: {url}")
    return scheme, parts.hostname, port or (443 if scheme == "https" else 80)


def address_problem(address: IPAddress) -> str | None:
    """Why an address is off limits ("a loopback address"), or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _nat64_embedded(address)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"{problem} (embedded in {address})" if problem else None
    problem = _class_problem(address)
    if address in METADATA_ADDRESSES:
        return f"a cloud metadata address ({(problem or 'a public address')[2:].strip()})"
    return problem


def _class_problem(address: IPAddress) -> str | None:
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
    if not address.is_global or any(address in net for net in _EXTRA_BLOCKED):
        return "a non-public address"  # e.g. 100.64.0.0/10 carrier-grade NAT
    return None


def _nat64_embedded(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside a well-known-prefix NAT64 address (64:ff9b::/96)."""
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Which resolved addresses may be connected to.

    `trusted`: addresses treated as public although they are not. Only for tests that must run
    their servers on loopback yet check the refusal of other addresses (e.g. trust 127.0.0.1,
    refuse a redirect to 127.0.0.2); production code leaves it empty."""

    allow_private: bool = False
    trusted: frozenset[IPAddress] = field(default_factory=frozenset)

    @classmethod
    def of(cls, allow_private: bool, trusted: Iterable[str] = ()) -> AddressPolicy:
        return cls(allow_private, frozenset(ipaddress.ip_address(a) for a in trusted))

    def problem(self, address: IPAddress) -> str | None:
        if self.allow_private or address in self.trusted:
            return None
        return address_problem(address)


async def resolve(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    """The host's addresses (a literal needs no lookup); `UnsafeURL("unresolvable")` if none."""
    literal = as_address(host)
    if literal is not None:
        return [literal]
    try:
        addresses = [ip for ip in (as_address(raw) for raw in await resolver(host, port)) if ip is not None]
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL("unresolvable", f"cannot resolve host {host!r}: {exc}") from None
    if not addresses:
        raise UnsafeURL("unresolvable", f"host {host!r} has no addresses")
    return addresses


def vet(host: str, addresses: list[IPAddress], policy: AddressPolicy, *, url: str | None = None) -> None:
    """Refuse if ANY address is off limits: a host with one public and one private address could
    otherwise be steered to the private one."""
    for address in addresses:
        problem = policy.problem(address)
        if problem:
            via = "is" if as_address(host) is not None else f"resolves to {address},"
            what = url or host
            raise UnsafeURL("unsafe_address", f"refused {what}: host {host!r} {via} {problem} ({ALLOW_HINT})")


async def check_url(
    url: str,
    *,
    allow_private: bool,
    resolver: Resolver = system_resolver,
    policy: AddressPolicy | None = None,
) -> None:
    """Raise `UnsafeURL` if Herald must not fetch `url`; return quietly if it may.

    A pre-check for clear errors before any connection; the connection itself is vetted again
    by `VettingResolver` on the addresses it actually uses."""
    _, host, port = split_url(url)
    policy = policy or AddressPolicy(allow_private)
    if policy.allow_private:
        return
    vet(host, await resolve(host, port, resolver), policy, url=url)


class VettingResolver(AbstractResolver):
    """An aiohttp resolver that resolves, vets, and returns only vetted addresses.

    aiohttp calls it for every new connection to a named host (the first request to a host, each
    redirect hop to a new host, each reconnect) when its DNS cache is off; pooled connections
    were vetted when they were opened. Literal hosts never reach it: see `socket_for`."""

    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver) -> None:
        self.policy = policy
        self.resolver = resolver
        #: The latest new connections to named hosts, as (host, vetted address handed to aiohttp):
        #: lets tests and debugging see which address was used (aiohttp connects to the first of
        #: them that answers). Bounded: a long-running worker opens connections all day.
        self.connections: deque[tuple[str, str]] = deque(maxlen=RECENT_CONNECTIONS)

    async def vetted(self, host: str, port: int, *, url: str | None = None) -> list[IPAddress]:
        """The host's addresses, looked up once and all vetted (`UnsafeURL` if any is off
        limits), recorded in `connections`: what a client may connect to."""
        addresses = await resolve(host, port, self.resolver)
        vet(host, addresses, self.policy, url=url)
        self.connections.extend((host, str(address)) for address in addresses)
        return addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self.vetted(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=str(address),
                port=port,
                family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        """Nothing to release: lookups go through `self.resolver`."""

    def socket_for(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """The session's socket factory: vet the address a new connection is about to use, then
        make its socket. aiohttp resolves IP-literal hosts itself, never through `resolve`; this
        refuses them (raising `UnsafeURL` out of the request, as `resolve` does), and checks
        resolved names once more on the address actually connected to."""
        family, type_, proto, _, sockaddr = addr_info
        host = str(sockaddr[0])
        address = as_address(host)
        if address is None:
            raise UnsafeURL("unsafe_address", f"refused to connect to {host!r}: not an IP address")
        vet(host, [address], self.policy)
        return socket.socket(family=family, type=type_, proto=proto)


@functools.lru_cache(maxsize=4096)
def as_address(text: str) -> IPAddress | None:
    """The IP address `text` spells (brackets and an IPv6 zone allowed), or None for a name.
    Cached (pure): the fetcher asks about the same hosts on every poll."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0].strip("[]"))
    except ValueError:
        return None


#: Redirects are followed by hand with a vetted session (each hop a request of its own).
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def vetted_session(vetting: VettingResolver, *, limit: int = 100, limit_per_host: int = 0, **options: Any):
    """An aiohttp session whose every connection goes through `vetting`: its resolver with the DNS
    cache off (each new connection is resolved and vetted again), its socket factory for every
    address connected to (IP-literal hosts included), no proxy from the environment (a URL
    must reach the host it names) and no cookies (a feed server's cookies would be sent back on
    every poll, and the jar would grow with every host). Follow redirects by hand
    (`allow_redirects=False`) so that each hop is a request of its own."""
    connector = aiohttp.TCPConnector(
        resolver=vetting,
        use_dns_cache=False,
        limit=limit,
        limit_per_host=limit_per_host,
        socket_factory=vetting.socket_for,
    )
    options.setdefault("cookie_jar", aiohttp.DummyCookieJar())  # no state carried between fetches
    return aiohttp.ClientSession(connector=connector, trust_env=False, **options)
