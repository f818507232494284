"""tweepy's AsyncClient towards any X API base URL over TLS: one way for every service that
speaks to X (the publisher's posts, the directory's checks and its X List).

tweepy 4.17's AsyncClient hard-codes https://api.twitter.com; `x_session` moves that name to
another host:port (a test server, a proxy) through the aiohttp resolver, without patching tweepy.
TLS still verifies the certificate for api.twitter.com (the URL's host).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from pydantic import SecretStr
from tweepy.asynchronous import AsyncClient

#: tweepy 4.17's AsyncClient always calls this host (`AsyncBaseClient.request`).
X_API_HOST = "api.twitter.com"
X_DEFAULT_BASE_URL = f"https://{X_API_HOST}"

#: OAuth 1.0a user context: (api key, api secret, access token, access token secret).
XCredentials = tuple[SecretStr, SecretStr, SecretStr, SecretStr]


class PinnedResolver(AbstractResolver):
    """Resolves api.twitter.com:443 to another host:port (a test server, a proxy); other names as usual."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host == X_API_HOST and port in (0, 443):
            results = await self._inner.resolve(self._host, self._port, family)
            return [{**result, "hostname": host} for result in results]  # type: ignore[typeddict-item]
        return await self._inner.resolve(host, port, family)

    async def close(self) -> None:
        await self._inner.close()


def check_base_url(base_url: str) -> None:
    """`ValueError` unless `base_url` is https://host[:port] (tweepy only speaks TLS)."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"X API base URL must be https://host[:port], got {base_url!r}")


def x_session(base_url: str, ca_bundle: Path | None, *, timeout: float = 30.0) -> aiohttp.ClientSession:
    """The aiohttp session for tweepy: trusts `ca_bundle` besides the system CAs and, for a base URL
    other than the real API, sends api.twitter.com's traffic to that URL's host and port.
    Must be called inside the running event loop."""
    check_base_url(base_url)
    parts = urlsplit(base_url)
    ssl_context = ssl.create_default_context()
    if ca_bundle is not None:
        ssl_context.load_verify_locations(cafile=str(ca_bundle))
    resolver = None
    if (parts.hostname, parts.port or 443) != (X_API_HOST, 443):
        resolver = PinnedResolver(parts.hostname or "", parts.port or 443)
    connector = aiohttp.TCPConnector(ssl=ssl_context, resolver=resolver)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


def x_client(
    credentials: XCredentials, base_url: str, ca_bundle: Path | None, *, timeout: float = 30.0
) -> AsyncClient:
    """A user-context AsyncClient that returns raw aiohttp responses (so `x-rate-limit-*` headers
    are read on success too) over `x_session`. Must be called inside the running event loop."""
    key, secret, token, token_secret = (s.get_secret_value() for s in credentials)
    client = AsyncClient(
        consumer_key=key,
        consumer_secret=secret,
        access_token=token,
        access_token_secret=token_secret,
        return_type=aiohttp.ClientResponse,
    )
    client.session = x_session(base_url, ca_bundle, timeout=timeout)
    return client


class LazyXClient:
    """An `x_client` built on first use, inside the running loop (its aiohttp session belongs to
    one), and closed with its session."""

    def __init__(
        self, credentials: XCredentials, base_url: str, ca_bundle: Path | None, *, timeout: float = 30.0
    ) -> None:
        self._args = (credentials, base_url, ca_bundle)
        self._timeout = timeout
        self._client: AsyncClient | None = None

    def get(self) -> AsyncClient:
        if self._client is None:
            self._client = x_client(*self._args, timeout=self._timeout)
        return self._client

    async def close(self) -> None:
        if self._client is not None and self._client.session is not None:
            await self._client.session.close()
