"""Channels: where posts go, behind one small interface.

A channel posts one text and says how it went: a `PostResult`, or one of three typed errors the
publisher treats differently — `TransientPostError` (retry later: 5xx, network, 429),
`PermanentPostError` (never retry: auth, invalid), `DuplicatePostError` (X already has this text:
final, and after an uncertain earlier attempt a sign that it may have gone out).

`XChannel` posts through tweepy's AsyncClient (OAuth 1.0a user context). `OutboxChannel` is the
dry run used while no X credentials are set: one JSON line per post in `<outbox>/x.jsonl`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import tweepy
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from tweepy.asynchronous import AsyncClient

from shared.events import FeedItemDiscovered
from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

#: tweepy 4.17's AsyncClient always calls this host (`AsyncBaseClient.request`).
X_API_HOST = "api.twitter.com"
X_DEFAULT_BASE_URL = f"https://{X_API_HOST}"


@dataclass(frozen=True)
class PostResult:
    """The channel accepted the post."""

    post_id: str
    post_url: str | None
    dry_run: bool = False


class PostError(Exception):
    """A post did not go out; `code` is short and machine-readable, the message is the reason."""

    def __init__(self, reason: str, *, code: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientPostError(PostError):
    """Worth retrying. `retry_at` (epoch seconds) when the channel said when; `maybe_sent` when the
    request may have reached the channel (a timeout or a dropped connection, no answer)."""

    def __init__(self, reason: str, *, code: str, retry_at: float | None = None, maybe_sent: bool = False):
        super().__init__(reason, code=code)
        self.retry_at = retry_at
        self.maybe_sent = maybe_sent


class PermanentPostError(PostError):
    """Retrying cannot help (bad credentials, forbidden, invalid text)."""


class DuplicatePostError(PermanentPostError):
    """The channel refuses the text as a duplicate of a post it already has."""


class Channel(Protocol):
    """One account on one channel."""

    @property
    def name(self) -> str: ...

    @property
    def account(self) -> str: ...

    async def post(self, text: str, item: FeedItemDiscovered) -> PostResult: ...

    async def close(self) -> None: ...


class OutboxChannel:
    """Dry run: appends what would be posted to `<outbox_dir>/<stands_in_for>.jsonl` and logs it.

    Nothing leaves the machine. Each line: item_id, channel, account, text, link, title, at."""

    name = "outbox"

    def __init__(self, outbox_dir: Path, *, account: str, stands_in_for: str = "x") -> None:
        self.account = account
        self.stands_in_for = stands_in_for
        self.path = outbox_dir / f"{stands_in_for}.jsonl"

    async def post(self, text: str, item: FeedItemDiscovered) -> PostResult:
        line = {
            "item_id": item.item_id,
            "channel": self.stands_in_for,
            "account": self.account,
            "text": text,
            "link": item.link,
            "title": item.title,
            "at": datetime.now(UTC).isoformat(),
            "dry_run": True,
        }
        try:
            await asyncio.to_thread(self._append, json.dumps(line, ensure_ascii=False))
        except OSError as exc:
            raise TransientPostError(f"cannot write the outbox {self.path}: {exc}", code="outbox_io") from exc
        log.warning("DRY RUN (outbox %s) would post as %s: %s", self.path, self.account, text)
        digest = hashlib.sha256(f"{item.item_id}|{self.account}".encode()).hexdigest()[:16]
        return PostResult(post_id=f"outbox-{digest}", post_url=None, dry_run=True)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    async def close(self) -> None:
        return None


class _PinnedResolver(AbstractResolver):
    """Resolves api.twitter.com:443 to another host:port (a test server, a proxy); other names as usual.

    tweepy's AsyncClient hard-codes https://api.twitter.com but uses the aiohttp session it is
    given, so a session whose connector resolves the name elsewhere moves it without patching
    tweepy. TLS still verifies the certificate for api.twitter.com (the URL's host)."""

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


def x_session(base_url: str, ca_bundle: Path | None, *, timeout: float = 30.0) -> aiohttp.ClientSession:
    """The aiohttp session for tweepy: trusts `ca_bundle` besides the system CAs and, for a base URL
    other than the real API, sends api.twitter.com's traffic to that URL's host and port.
    Must be called inside the running event loop."""
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"X API base URL must be https://host[:port], got {base_url!r}")
    ssl_context = ssl.create_default_context()
    if ca_bundle is not None:
        ssl_context.load_verify_locations(cafile=str(ca_bundle))
    resolver = None
    if (parts.hostname, parts.port or 443) != (X_API_HOST, 443):
        resolver = _PinnedResolver(parts.hostname, parts.port or 443)
    connector = aiohttp.TCPConnector(ssl=ssl_context, resolver=resolver)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


class XChannel:
    """Posts to X (API v2 POST /2/tweets) as one account, through tweepy's AsyncClient."""

    name = "x"

    def __init__(self, settings: HeraldSettings, *, account: str) -> None:
        if not settings.x_credentials_set:
            raise ValueError("X credentials are not all set")
        self.account = account
        self._base_url = settings.x_api_base_url
        self._ca_bundle = settings.x_ca_bundle
        self._secrets = tuple(
            secret.get_secret_value()  # type: ignore[union-attr]
            for secret in (
                settings.x_api_key,
                settings.x_api_secret,
                settings.x_access_token,
                settings.x_access_token_secret,
            )
        )
        self._client: AsyncClient | None = None

    def _ensure_client(self) -> AsyncClient:
        # Built on first use: an aiohttp session belongs to the running loop, and nothing may
        # connect (or even need a loop) while the service is only being built.
        if self._client is None:
            key, secret, token, token_secret = self._secrets
            client = AsyncClient(
                consumer_key=key, consumer_secret=secret, access_token=token, access_token_secret=token_secret
            )
            client.session = x_session(self._base_url, self._ca_bundle)
            self._client = client
        return self._client

    async def post(self, text: str, item: FeedItemDiscovered) -> PostResult:
        client = self._ensure_client()
        try:
            response = await client.create_tweet(text=text, user_auth=True)
        except tweepy.TooManyRequests as exc:
            raise TransientPostError(
                f"rate limited: {_reason(exc)}", code="rate_limited", retry_at=exc.reset_time
            ) from exc
        except tweepy.Unauthorized as exc:
            raise PermanentPostError(f"X refused the credentials: {_reason(exc)}", code="auth") from exc
        except tweepy.Forbidden as exc:
            if "duplicate" in _reason(exc).lower():
                raise DuplicatePostError(_reason(exc), code="duplicate") from exc
            raise PermanentPostError(_reason(exc), code="http_403") from exc
        except tweepy.TwitterServerError as exc:
            raise TransientPostError(_reason(exc), code=f"http_{exc.response.status}") from exc
        except tweepy.HTTPException as exc:
            raise PermanentPostError(_reason(exc), code=f"http_{exc.response.status}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientPostError(f"cannot connect to X: {exc}", code="network") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientPostError(
                f"no answer from X: {type(exc).__name__}: {exc}", code="network", maybe_sent=True
            ) from exc
        data: dict[str, Any] = response.data or {}
        post_id = str(data.get("id", ""))
        if not post_id:
            raise TransientPostError("X answered without a post id", code="bad_response", maybe_sent=True)
        return PostResult(post_id=post_id, post_url=f"https://x.com/i/web/status/{post_id}")

    async def close(self) -> None:
        if self._client is not None and self._client.session is not None:
            await self._client.session.close()


def _reason(exc: tweepy.HTTPException) -> str:
    """X's own words, on one line."""
    messages = "; ".join(str(message) for message in exc.api_messages)
    status = getattr(exc.response, "status", "?")
    return f"{status} {messages}".strip() if messages else " ".join(str(exc).split())


def build_channel(settings: HeraldSettings, *, account: str) -> Channel:
    """X when its credentials are set, else the dry-run outbox (the caller says so loudly)."""
    if settings.x_credentials_set:
        return XChannel(settings, account=account)
    return OutboxChannel(settings.outbox_dir, account=account)
