"""The "retrieve" step: one conditional GET of a feed, safely (issue 5 §3 and §6).

- ONE `aiohttp.ClientSession` (connection pool, keep-alive) per fetcher, and one fetcher per
  process; at most `per_host_limit` requests to the same host at once, so one slow council server
  cannot take the whole pool and a big subscription list cannot hammer one host. aiohttp, not
  httpx: the benchmark's thousands of 304s a second need its lighter per-request path.
- Connect/read timeouts from settings, and a total deadline that stops servers that trickle
  bytes just fast enough to dodge the read timeout.
- Redirects followed by hand: each hop's scheme is checked, and each new connection is vetted by
  `shared.netsafety.VettingResolver` (resolve once, refuse off-limits addresses, connect to the vetted IP;
  its socket factory vets every address connected to, IP-literal hosts included, which aiohttp
  never resolves).
  A chain that starts with 301/308 hops reports where they lead as `permanent_redirect`.
- The body is read raw and decoded here (gzip, deflate, br) in bounded pieces; both the wire size
  and the decoded size are capped at `max_feed_bytes` while streaming, so a decompression bomb is
  refused after at most cap + 64 KB of memory.
- Caching hints for the scheduler: Cache-Control max-age (`min_next_poll_seconds`) and 429/503
  Retry-After (`FeedError.retry_after_seconds`).
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urljoin

import aiohttp
import brotli

from services.feed_ingest.decode import (
    ACCEPT_ENCODING,
    ContentDecoder,
    UnsupportedEncoding,
    max_age_seconds,
    retry_after_seconds,
)
from services.feed_ingest.errors import FeedError
from shared import __version__
from shared.netsafety import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    AddressPolicy,
    Resolver,
    UnsafeURL,
    VettingResolver,
    split_url,
    system_resolver,
    vetted_session,
)
from shared.settings import HeraldSettings

PERMANENT_REDIRECTS = {301, 308}
DEFAULT_PER_HOST_LIMIT = 8
#: Connections in the pool, over all hosts (each host is also held to its per-host limit).
POOL_LIMIT = 200
#: Longest response header line/field accepted (aiohttp's default, 8 KB, would refuse some
#: servers' cookie-laden headers that httpx took).
MAX_HEADER_BYTES = 16 * 1024
READ_CHUNK = 64 * 1024
#: Decoded/wire size ratio past which an over-cap body is called a bomb, not just a big feed.
BOMB_RATIO = 100
_TRANSFER_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchResult:
    status: Literal["ok", "not_modified"]
    http_status: int
    url: str  # after redirects
    body: bytes = b""  # decoded (Content-Encoding undone)
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names, transfer ones dropped
    etag: str | None = None
    last_modified: str | None = None
    #: Where the leading 301/308 hops of the redirect chain led: the subscription should move there.
    permanent_redirect: str | None = None
    #: Cache-Control max-age: the server asks not to be polled again sooner (clamped to 7 days).
    min_next_poll_seconds: float | None = None
    #: Bytes received on the wire (before decoding), for metrics.
    wire_bytes: int = 0


def user_agent(settings: HeraldSettings) -> str:
    return f"Herald/{__version__} (+{settings.user_agent_contact})"


class HostLimiter:
    """At most `limit` concurrent fetches per host; entries vanish when idle (memory does not grow
    with every host ever fetched). `async with limiter.slot(host):`."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._slots: dict[str, _HostSlot] = {}

    def slot(self, host: str) -> _HostSlot:
        slot = self._slots.get(host)
        if slot is None:
            slot = self._slots[host] = _HostSlot(self, host)
        return slot

    def _release(self, slot: _HostSlot) -> None:
        if slot.users == 0 and self._slots.get(slot.host) is slot:
            del self._slots[slot.host]

    def __len__(self) -> int:
        return len(self._slots)


class _HostSlot:
    """One host's semaphore and how many fetches hold or wait for it (a plain async context
    manager: a generator-based one cost more than the wait itself at thousands of 304s a second)."""

    __slots__ = ("host", "limiter", "semaphore", "users")

    def __init__(self, limiter: HostLimiter, host: str) -> None:
        self.limiter = limiter
        self.host = host
        self.semaphore = asyncio.Semaphore(limiter.limit)
        self.users = 0

    async def __aenter__(self) -> None:
        self.users += 1
        try:
            await self.semaphore.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self.semaphore.release()
        self._leave()

    def _leave(self) -> None:
        self.users -= 1
        self.limiter._release(self)


class FeedFetcher:
    """Fetches feeds through one pooled session, created on first use (nothing connects at build).

    `trusted_addresses`: for tests only, addresses treated as public (see `AddressPolicy`)."""

    def __init__(
        self,
        settings: HeraldSettings,
        *,
        resolver: Resolver = system_resolver,
        trusted_addresses: Iterable[str] = (),
        per_host_limit: int | None = None,
        total_timeout_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self.policy = AddressPolicy.of(settings.allow_private_networks, trusted_addresses)
        self.vetting = VettingResolver(self.policy, resolver)
        limit = per_host_limit or getattr(settings, "feed_per_host_concurrency", DEFAULT_PER_HOST_LIMIT)
        self.hosts = HostLimiter(int(limit))
        self.total_timeout = total_timeout_seconds or settings.http_timeout_seconds * 3
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pooled session (also used for WebSub requests: they get the same vetting)."""
        if self._session is None:
            timeout = self.settings.http_timeout_seconds
            self._session = vetted_session(
                self.vetting,
                limit=POOL_LIMIT,
                limit_per_host=self.hosts.limit,
                timeout=aiohttp.ClientTimeout(total=None, connect=min(10.0, timeout), sock_read=timeout),
                headers={
                    "User-Agent": user_agent(self.settings),
                    "Accept": ACCEPT,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
                auto_decompress=False,  # decoded here, with caps (decompression bombs)
                max_line_size=MAX_HEADER_BYTES,
                max_field_size=MAX_HEADER_BYTES,
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given); raise `FeedError` on any failure."""
        try:
            async with asyncio.timeout(self.total_timeout):
                return await self._fetch(url, etag, last_modified)
        except UnsafeURL as exc:  # from the URL check, the resolver or the socket factory, on any hop
            raise FeedError(exc.kind, exc.reason) from None
        except TimeoutError:
            raise FeedError(
                "timeout", f"fetching {url} took longer than {self.total_timeout:g}s in all (server too slow)"
            ) from None

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        current, moved_to, chain_permanent = url, None, True
        for _hop in range(MAX_REDIRECTS + 1):
            _, host, _ = split_url(current)  # scheme and host; addresses are vetted on connect
            async with self.hosts.slot(host.lower()):
                try:
                    async with self.session.get(
                        current, headers=conditional, allow_redirects=False
                    ) as response:
                        status = response.status
                        if status in REDIRECT_STATUSES and "location" in response.headers:
                            target = urljoin(current, response.headers["location"].strip())
                            chain_permanent = chain_permanent and status in PERMANENT_REDIRECTS
                            if chain_permanent:
                                moved_to = target
                            current = target
                            continue
                        result = await self._read(response, current)
                except aiohttp.ServerTimeoutError as exc:
                    phase = "connecting to" if isinstance(exc, aiohttp.ConnectionTimeoutError) else "reading"
                    raise FeedError(
                        "timeout",
                        f"timed out {phase} {current} (over {self.settings.http_timeout_seconds:g}s)",
                    ) from None
                except aiohttp.InvalidURL as exc:
                    raise FeedError("bad_url", f"invalid URL {current!r}: {exc}") from None
                except aiohttp.ClientError as exc:
                    raise FeedError(
                        "unreachable", f"cannot fetch {current}: {type(exc).__name__}: {exc}"
                    ) from None
            return replace(result, permanent_redirect=moved_to) if moved_to else result
        raise FeedError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _read(self, response: aiohttp.ClientResponse, url: str) -> FetchResult:
        status = response.status
        headers = response.headers
        etag = headers.get("etag")
        last_modified = headers.get("last-modified")
        min_next = max_age_seconds(headers.get("cache-control"))
        if status == 304:
            return FetchResult(
                "not_modified",
                status,
                url,
                etag=etag,
                last_modified=last_modified,
                min_next_poll_seconds=min_next,
            )
        if status >= 400 or status < 200:
            phrase = response.reason or ""
            wait = retry_after_seconds(headers.get("retry-after"))
            after = f"; retry after {wait:g}s" if wait is not None else ""
            raise FeedError(
                "http_error",
                f"HTTP {status} {phrase} from {url}".replace("  ", " ") + after,
                http_status=status,
                retry_after_seconds=wait,
            )
        body, wire = await self._read_body(response, url)
        return FetchResult(
            "ok",
            status,
            url,
            body=body,
            headers=_merged(headers),
            etag=etag,
            last_modified=last_modified,
            min_next_poll_seconds=min_next,
            wire_bytes=wire,
        )

    async def _read_body(self, response: aiohttp.ClientResponse, url: str) -> tuple[bytes, int]:
        """The decoded body, capped on the wire and once decoded, never held whole before the check."""
        status = response.status
        limit = self.settings.max_feed_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FeedError(
                "too_large",
                f"feed at {url} is {declared} bytes, over the {limit}-byte limit",
                http_status=status,
            )
        try:
            decoder = ContentDecoder(response.headers.get("content-encoding"))
        except UnsupportedEncoding as exc:
            raise FeedError("malformed", f"{exc} from {url}", http_status=status) from None
        chunks: list[bytes] = []
        wire = size = 0

        def take(pieces: Iterable[bytes]) -> None:
            nonlocal size
            for piece in pieces:
                size += len(piece)
                if size > limit:
                    if size > BOMB_RATIO * max(wire, 1):
                        raise FeedError(
                            "decompression_bomb",
                            f"feed at {url} expands from {wire} bytes to over {limit} bytes "
                            f"({response.headers.get('content-encoding')}); refused",
                            http_status=status,
                        )
                    raise FeedError(
                        "too_large",
                        f"feed at {url} is over the {limit}-byte limit once decoded",
                        http_status=status,
                    )
                chunks.append(piece)

        try:
            async for raw in response.content.iter_chunked(READ_CHUNK):
                wire += len(raw)
                if wire > limit:
                    raise FeedError(
                        "too_large", f"feed at {url} is over the {limit}-byte limit", http_status=status
                    )
                take(decoder.feed(raw))
            take(decoder.flush())
        except (zlib.error, brotli.error) as exc:
            coding = response.headers.get("content-encoding")
            raise FeedError(
                "malformed", f"could not decode the {coding} body from {url}: {exc}", http_status=status
            ) from None
        return b"".join(chunks), wire


def _merged(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names, repeated headers joined with ", " (as HTTP allows; WebSub reads every
    `Link`), transfer headers dropped: the body is decoded, they no longer describe it."""
    merged: dict[str, str] = {}
    for key, value in headers.items():
        name = key.lower()
        if name not in _TRANSFER_HEADERS:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged
