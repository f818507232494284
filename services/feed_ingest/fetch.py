"""The "retrieve" step: one conditional GET of a feed, safely.

One shared `httpx.AsyncClient` (connection pool) per process, timeouts from settings, a
User-Agent naming Herald and a contact URL, redirects followed by hand so each hop passes the
address check, and the body size capped while streaming (never read whole first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urljoin

import httpx

from services.feed_ingest.errors import FeedError
from services.feed_ingest.safety import Resolver, check_url, system_resolver
from shared import __version__
from shared.settings import HeraldSettings

MAX_REDIRECTS = 5
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
_TRANSFER_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


@dataclass(frozen=True)
class FetchResult:
    status: Literal["ok", "not_modified"]
    http_status: int
    url: str  # after redirects
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    #: Where a 301/308 chain ended, when it did: issue 5 will move the subscription there.
    permanent_redirect: str | None = None


def user_agent(settings: HeraldSettings) -> str:
    return f"Herald/{__version__} (+{settings.user_agent_contact})"


class FeedFetcher:
    """Fetches feeds through one pooled client, created on first use (nothing connects at build)."""

    def __init__(self, settings: HeraldSettings, *, resolver: Resolver = system_resolver) -> None:
        self.settings = settings
        self.resolver = resolver
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            timeout = self.settings.http_timeout_seconds
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
                limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
                headers={"User-Agent": user_agent(self.settings), "Accept": ACCEPT},
                follow_redirects=False,
                trust_env=False,  # a feed URL must reach the host it names, not a proxy from the env
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """GET `url` (conditionally when validators are given); raise `FeedError` on any failure.

        A total deadline (3× the timeout) also stops servers that drip bytes just fast enough."""
        try:
            async with asyncio.timeout(self.settings.http_timeout_seconds * 3):
                return await self._fetch(url, etag, last_modified)
        except TimeoutError:
            raise FeedError("timeout", f"timed out fetching {url}") from None

    async def _fetch(self, url: str, etag: str | None, last_modified: str | None) -> FetchResult:
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        current, permanent_only = url, True
        for _hop in range(MAX_REDIRECTS + 1):
            await check_url(
                current, allow_private=self.settings.allow_private_networks, resolver=self.resolver
            )
            try:
                async with self.client.stream("GET", current, headers=conditional) as response:
                    if response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                        permanent_only = permanent_only and response.status_code in (301, 308)
                        current = urljoin(current, response.headers["location"])
                        continue
                    result = await self._read(response, current)
            except httpx.TimeoutException:
                raise FeedError("timeout", f"timed out fetching {current}") from None
            except httpx.InvalidURL as exc:
                raise FeedError("bad_url", f"invalid URL {current!r}: {exc}") from None
            except httpx.DecodingError as exc:
                raise FeedError("malformed", f"could not decode the response from {current}: {exc}") from None
            except httpx.HTTPError as exc:
                raise FeedError(
                    "unreachable", f"cannot fetch {current}: {type(exc).__name__}: {exc}"
                ) from None
            if current != url and permanent_only:
                return _replace_redirect(result, current)
            return result
        raise FeedError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _read(self, response: httpx.Response, url: str) -> FetchResult:
        status = response.status_code
        etag = response.headers.get("etag")
        last_modified = response.headers.get("last-modified")
        if status == 304:
            return FetchResult("not_modified", status, url, etag=etag, last_modified=last_modified)
        if status >= 400 or status < 200:
            phrase = response.reason_phrase or ""
            raise FeedError(
                "http_error", f"HTTP {status} {phrase} from {url}".replace("  ", " "), http_status=status
            )
        limit = self.settings.max_feed_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise FeedError(
                "too_large",
                f"feed at {url} is {declared} bytes, over the {limit}-byte limit",
                http_status=status,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # decoded: the cap also bounds gzip expansion
            size += len(chunk)
            if size > limit:
                raise FeedError(
                    "too_large", f"feed at {url} is over the {limit}-byte limit", http_status=status
                )
            chunks.append(chunk)
        return FetchResult(
            "ok",
            status,
            url,
            body=b"".join(chunks),
            headers={  # the body is already decoded: its transfer headers no longer describe it
                key.lower(): value
                for key, value in response.headers.items()
                if key.lower() not in _TRANSFER_HEADERS
            },
            etag=etag,
            last_modified=last_modified,
        )


def _replace_redirect(result: FetchResult, final_url: str) -> FetchResult:
    return FetchResult(
        result.status,
        result.http_status,
        result.url,
        result.body,
        result.headers,
        result.etag,
        result.last_modified,
        permanent_redirect=final_url,
    )
