"""The "retrieve" step: one conditional GET of a feed, safely (issue 5 §3 and §6).

- ONE libcurl multi handle (`curl_loop.CurlLoop`: connection pool, keep-alive) per fetcher, and
  one fetcher per process; at most `per_host_limit` requests to the same host at once, so one slow
  council server cannot take the whole pool and a big subscription list cannot hammer one host.
  libcurl, not aiohttp: a worker makes thousands of conditional GETs a second, and each cost
  ~450 µs of CPU through aiohttp, 100–225 µs here (bench/README.md).
- Connect timeout (libcurl's), read timeout (no byte for that long), and a total deadline that
  stops servers that trickle bytes just fast enough to dodge the read timeout: `TransferWatch`,
  one loop timer checking every transfer in flight (a timer or two per request cost more).
- Addresses: a named host is resolved here, every address vetted (`shared.netsafety`: refused if
  any is off limits), and libcurl is told to use exactly those (`CURLOPT_RESOLVE`) for
  `DNS_TTL_SECONDS`; then it is looked up and vetted again. An IP-literal host is vetted before
  any connection. And every new connection's address is vetted once more as its socket is made
  (`transfer.Transfer`): there is no path to an address that was not checked.
- Redirects followed by hand: each hop is a request of its own, checked like the first.
  A chain that starts with 301/308 hops reports where they lead as `permanent_redirect`.
- The body is read raw and decoded in bounded pieces (gzip, deflate, br) as it arrives; both the
  wire size and the decoded size are capped at `max_feed_bytes`, so a decompression bomb is
  refused after at most cap + 64 KB of memory.
- Caching hints for the scheduler: Cache-Control max-age (`min_next_poll_seconds`) and 429/503
  Retry-After (`FeedError.retry_after_seconds`).
- WebSub's requests to hubs go through `session`, an aiohttp session with the same vetting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import urljoin

import aiohttp
import pycurl

from services.feed_ingest.curl_loop import CurlError, CurlLoop
from services.feed_ingest.decode import ACCEPT_ENCODING, max_age_seconds, retry_after_seconds
from services.feed_ingest.errors import FeedError
from services.feed_ingest.transfer import Transfer
from shared import __version__
from shared.netsafety import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    AddressPolicy,
    Resolver,
    UnsafeURL,
    VettingResolver,
    as_address,
    split_url,
    system_resolver,
    vet,
    vetted_session,
)
from shared.settings import FEED_CONNECTION_LIMIT, HeraldSettings

PERMANENT_REDIRECTS = {301, 308}
#: Connections in the pool, over all hosts (each host is also held to its per-host limit).
POOL_LIMIT = FEED_CONNECTION_LIMIT
#: Longest response header line/field accepted (aiohttp's default, 8 KB, would refuse some
#: servers' cookie-laden headers that httpx took).
MAX_HEADER_BYTES = 16 * 1024
#: How long a named host's vetted addresses are used before it is looked up (and vetted) again.
DNS_TTL_SECONDS = 60.0
#: Named hosts whose vetted addresses are kept at once (memory stays bounded, whatever the feeds).
PINNED_HOSTS = 4096
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
    #: The status the requested URL answered when it redirected permanently (301 or 308).
    permanent_redirect_status: int | None = None
    #: Cache-Control max-age: the server asks not to be polled again sooner (clamped to 7 days).
    min_next_poll_seconds: float | None = None
    #: Bytes received on the wire (before decoding), for metrics.
    wire_bytes: int = 0


def user_agent(settings: HeraldSettings) -> str:
    return f"Herald/{__version__} (+{settings.feed_ingest.user_agent_contact})"


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
        await self.acquire()

    async def __aexit__(self, *exc_info: object) -> None:
        self.release()

    async def acquire(self, deadline: float | None = None) -> None:
        """Wait for a turn; `TimeoutError` if that would last past `deadline` (loop time)."""
        self.users += 1
        try:
            # More users (holders and waiters, this one included) than turns: this one may wait.
            # (`Semaphore.locked()` walks the waiters each time.)
            if deadline is not None and self.users > self.limiter.limit:
                async with asyncio.timeout_at(deadline):
                    await self.semaphore.acquire()
            else:
                await self.semaphore.acquire()
        except BaseException:
            self._leave()
            raise

    def release(self) -> None:
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
        dns_ttl_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.resolver = resolver
        self.policy = AddressPolicy.of(settings.allow_private_networks, trusted_addresses)
        self.vetting = VettingResolver(self.policy, resolver)
        self.hosts = HostLimiter(per_host_limit or settings.feed_ingest.feed_per_host_concurrency)
        self.total_timeout = total_timeout_seconds or settings.feed_ingest.http_timeout_seconds * 3
        self.dns_ttl = DNS_TTL_SECONDS if dns_ttl_seconds is None else dns_ttl_seconds
        self._session: aiohttp.ClientSession | None = None  # WebSub's requests (aiohttp)
        self._curl: CurlLoop | None = None  # feeds' requests (libcurl), made on first use
        self._idle: list[Transfer] = []  # libcurl handles ready for another request
        self._pins: dict[tuple[str, int], tuple[float, list[str]]] = {}  # (host, port) → (until, RESOLVE)
        self._watch = TransferWatch(settings.feed_ingest.http_timeout_seconds, self.total_timeout)

    @property
    def session(self) -> aiohttp.ClientSession:
        """An aiohttp session with the same vetting, for WebSub's requests to hubs (feeds
        themselves are fetched through libcurl, `_exchange`)."""
        if self._session is None:
            timeout = self.settings.feed_ingest.http_timeout_seconds
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
        self._watch.close()
        if self._curl is not None:
            self._curl.close()
            self._curl = None
        for transfer in self._idle:
            transfer.close()
        self._idle.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given); raise `FeedError` on any failure."""
        try:
            deadline = asyncio.get_running_loop().time() + self.total_timeout
            return await self._fetch(url, etag, last_modified, deadline)
        except UnsafeURL as exc:  # from the URL check, the lookup or a socket's vetting, on any hop
            raise FeedError(exc.kind, exc.reason) from None
        except TimeoutError:  # waiting for a lookup or a turn at the host outlasted the deadline
            raise self._watch.too_long(url) from None

    async def _fetch(
        self, url: str, etag: str | None, last_modified: str | None, deadline: float
    ) -> FetchResult:
        request_headers = [f"Accept: {ACCEPT}", f"Accept-Encoding: {ACCEPT_ENCODING}"]
        if etag:
            request_headers.append(f"If-None-Match: {etag}")
        if last_modified:
            request_headers.append(f"If-Modified-Since: {last_modified}")
        current, moved_to, moved_by, chain_permanent = url, None, None, True
        for _hop in range(MAX_REDIRECTS + 1):
            _, host, port = split_url(current)  # http(s) with a host; addresses are vetted on connect
            slot = self.hosts.slot(host.lower())
            await slot.acquire(deadline)
            try:
                transfer = await self._exchange(
                    current, host, port, request_headers, origin=url, deadline=deadline
                )
            finally:
                slot.release()
            try:
                status = transfer.status
                location = transfer.header("location")
                if status in REDIRECT_STATUSES and location:
                    target = urljoin(current, location.strip())
                    chain_permanent = chain_permanent and status in PERMANENT_REDIRECTS
                    if chain_permanent:
                        moved_to, moved_by = target, moved_by or status
                    current = target
                    continue
                result = self._result(transfer, current)
            finally:
                self._release(transfer)
            if moved_to:
                return replace(result, permanent_redirect=moved_to, permanent_redirect_status=moved_by)
            return result
        raise FeedError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _exchange(
        self,
        url: str,
        host: str,
        port: int,
        request_headers: list[str],
        *,
        origin: str,
        deadline: float,
    ) -> Transfer:
        """One request on a pooled libcurl handle; the response, whole, or `FeedError`/`UnsafeURL`.
        `origin`: the URL the fetch first asked for; `deadline`: the loop time it must end by.

        A named host is connected to only at addresses Herald resolved and vetted (pinned in
        libcurl's DNS cache for `dns_ttl_seconds`); every new connection's address is vetted
        again as its socket is made (`Transfer`)."""
        pin = await self._pin(url, host, port, deadline)
        engine = self._engine()
        transfer = self._idle.pop() if self._idle else self._new_transfer()
        transfer.begin(url, host)
        curl = transfer.curl
        curl.setopt(pycurl.URL, url)
        curl.setopt(pycurl.HTTPHEADER, request_headers)
        if pin is None:
            curl.unsetopt(pycurl.RESOLVE)
        else:
            curl.setopt(pycurl.RESOLVE, pin)
        self._watch.add(engine, transfer, origin, deadline)
        try:
            await engine.perform(curl)
        except CurlError as exc:
            if transfer.error is not None or not transfer.body_ended_early:
                error = transfer.error or self._failure(exc, url, transfer)
                self._release(transfer)
                raise error from None
        except BaseException:
            self._release(transfer)
            raise
        finally:
            self._watch.discard(transfer)
        return transfer

    async def _pin(self, url: str, host: str, port: int, deadline: float | None = None) -> list[str] | None:
        """libcurl's RESOLVE entries for a named host: its vetted addresses, looked up again once
        `dns_ttl_seconds` have passed (a rebinding answer then is refused like any other). None
        for an IP literal, which is vetted here, before any connection."""
        literal = as_address(host)
        if literal is not None:
            vet(host, [literal], self.policy, url=url)
            return None
        key = (host.lower(), port)
        cached = self._pins.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        async with asyncio.timeout_at(deadline):
            addresses = await self.vetting.vetted(host, port, url=url)
        listed = ",".join(f"[{a}]" if a.version == 6 else str(a) for a in addresses)
        entries = [f"-{host}:{port}", f"{host}:{port}:{listed}"]
        if len(self._pins) >= PINNED_HOSTS:  # bounded: drop the lapsed ones first, else all
            lapsed = [k for k, (until, _) in self._pins.items() if until <= now]
            for stale in lapsed or list(self._pins):
                del self._pins[stale]
        self._pins[key] = (now + self.dns_ttl, entries)
        return entries

    def _failure(self, exc: CurlError, url: str, transfer: Transfer) -> FeedError:
        timeout = self.settings.feed_ingest.http_timeout_seconds
        if exc.code == pycurl.E_OPERATION_TIMEDOUT:
            phase = "reading" if transfer.status else "connecting to"
            return FeedError("timeout", f"timed out {phase} {url} (over {timeout:g}s)")
        if exc.code in (pycurl.E_URL_MALFORMAT, pycurl.E_UNSUPPORTED_PROTOCOL):
            return FeedError("bad_url", f"invalid URL {url!r}: {exc.message}")
        return FeedError("unreachable", f"cannot fetch {url}: {exc.message}")

    def _result(self, transfer: Transfer, url: str) -> FetchResult:
        status = transfer.status
        etag = transfer.header("etag")
        last_modified = transfer.header("last-modified")
        min_next = max_age_seconds(transfer.header("cache-control"))
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
            wait = retry_after_seconds(transfer.header("retry-after"))
            after = f"; retry after {wait:g}s" if wait is not None else ""
            raise FeedError(
                "http_error",
                f"HTTP {status} {transfer.reason} from {url}".replace("  ", " ").strip() + after,
                http_status=status,
                retry_after_seconds=wait,
            )
        return FetchResult(
            "ok",
            status,
            url,
            body=transfer.body(),
            headers=_merged(transfer.headers),
            etag=etag,
            last_modified=last_modified,
            min_next_poll_seconds=min_next,
            wire_bytes=transfer.wire,
        )

    def _release(self, transfer: Transfer) -> None:
        """Back to the pool, holding nothing of its last response (a body may be megabytes)."""
        transfer.begin("", "")
        self._idle.append(transfer)

    def _engine(self) -> CurlLoop:
        if self._curl is None:
            self._curl = CurlLoop(max_connections=POOL_LIMIT, max_per_host=self.hosts.limit)
        return self._curl

    def _new_transfer(self) -> Transfer:
        timeout = self.settings.feed_ingest.http_timeout_seconds
        return Transfer(
            self.vetting,
            limit=self.settings.feed_ingest.max_feed_bytes,
            user_agent=user_agent(self.settings),
            connect_timeout=min(10.0, timeout),
            on_socket_closed=self._engine().socket_closed,
        )


class TransferWatch:
    """Ends transfers that stall (no byte for `read_timeout` seconds: libcurl's own low-speed
    limit counts whole seconds) or outlive their fetch's deadline (`total_timeout`). One loop
    timer for every transfer in flight, looking every quarter of the shorter limit, so a limit
    holds to within that much; it runs only while transfers do. A new connection still
    connecting is left to libcurl's connect timeout; a reused one has no connect phase (libcurl
    reports CONNECT_TIME 0 for it)."""

    def __init__(self, read_timeout: float, total_timeout: float) -> None:
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.tick = min(max(min(read_timeout, total_timeout) / 4, 0.02), 1.0)
        #: transfer → (its engine, the URL its fetch asked for, the fetch's deadline in loop time)
        self._running: dict[Transfer, tuple[CurlLoop, str, float]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def add(self, engine: CurlLoop, transfer: Transfer, url: str, deadline: float) -> None:
        self._running[transfer] = (engine, url, deadline)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.tick, self._check)

    def discard(self, transfer: Transfer) -> None:
        self._running.pop(transfer, None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._running.clear()

    def too_long(self, url: str) -> FeedError:
        return FeedError(
            "timeout", f"fetching {url} took longer than {self.total_timeout:g}s in all (server too slow)"
        )

    def _check(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        now, clock = loop.time(), time.monotonic()  # deadlines are loop time; `last_data` monotonic
        for transfer, (engine, url, deadline) in list(self._running.items()):
            if now >= deadline:
                error = self.too_long(url)
            elif clock - transfer.last_data >= self.read_timeout and not self._connecting(transfer):
                error = FeedError(
                    "timeout", f"timed out reading {transfer.url} (over {self.read_timeout:g}s)"
                )
            else:
                continue
            del self._running[transfer]
            engine.abort(transfer.curl, error)
        if self._running:
            self._timer = loop.call_later(self.tick, self._check)

    @staticmethod
    def _connecting(transfer: Transfer) -> bool:
        return (
            transfer.new_connection
            and transfer.status == 0
            and transfer.curl.getinfo(pycurl.CONNECT_TIME) == 0
        )


def _merged(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names, repeated headers joined with ", " (as HTTP allows; WebSub reads every
    `Link`), transfer headers dropped: the body is decoded, they no longer describe it."""
    merged: dict[str, str] = {}
    for key, value in headers:
        name = key.lower()
        if name not in _TRANSFER_HEADERS:
            merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged
