"""X (API v2) as one account, through tweepy's AsyncClient with OAuth 1.0a user context.

- Posts: `POST /2/tweets` (tweepy `create_tweet`), with the item's images when they upload.
- Images: tweepy 4.17 has no v2 media upload and X retired v1.1 `media/upload` in 2025, so the
  image goes to `POST /2/media/upload` (multipart `media` + `media_category=tweet_image`) in an
  aiohttp request signed with OAuth 1.0a by oauthlib (the signer tweepy uses), through the same
  session — so the same base URL and CA settings apply. An upload that fails never stops the
  post: it goes out without the image and the result's notes say why.
- Rate limits: tweepy returns the raw aiohttp response (`return_type=ClientResponse`), so the
  `x-rate-limit-*` headers are read on success as well as on a 429 (X sends no Retry-After).
- `find_recent(link)`: `GET /2/users/me` once for the account's id, then
  `GET /2/users/:id/tweets` with entities; a post whose expanded URL (or text) has the link.

The client and its session towards any base URL come from `shared.x_api` (shared with the
directory's checks).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import tweepy
from oauthlib.oauth1 import Client as OAuth1Client
from pydantic import SecretStr
from tweepy.asynchronous import AsyncClient

from services.publisher.channels.base import (
    X_LIMITS,
    ChannelLimits,
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
    prefixed_rate_limit,
    same_link,
)
from services.publisher.channels.media import DEFAULT_MAX_IMAGE_BYTES, ImageError, fetch_image
from shared.settings import HeraldSettings
from shared.x_api import X_DEFAULT_BASE_URL, check_base_url, x_client

log = logging.getLogger(__name__)

MEDIA_UPLOAD_PATH = "/2/media/upload"
#: How many of the account's latest posts `find_recent` looks through (X allows 5-100).
RECENT_POSTS = 50


def rate_limit_from(headers: Any) -> RateLimit | None:
    """X's `x-rate-limit-limit/-remaining/-reset` (reset in epoch seconds)."""
    return prefixed_rate_limit(headers, "x-rate-limit-")


class XChannel:
    """Posts to X (API v2 POST /2/tweets) as one account, through tweepy's AsyncClient."""

    name = "x"
    limits: ChannelLimits = X_LIMITS
    can_find_recent = True
    retry_guard = RetryGuard.DUPLICATE_REFUSAL

    def __init__(
        self,
        settings: HeraldSettings | None = None,
        *,
        account: str,
        credentials: tuple[SecretStr, SecretStr, SecretStr, SecretStr] | None = None,
        base_url: str | None = None,
        ca_bundle: Path | None = None,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        allow_private_networks: bool = False,
        timeout: float = 30.0,
    ) -> None:
        """`credentials` = (api key, api secret, access token, access token secret); without them,
        `settings`' HERALD_X_* (the walking skeleton's single account)."""
        if credentials is None:
            if settings is None or not settings.publisher.x_credentials_set:
                raise ValueError("X credentials are not all set")
            credentials = (
                settings.publisher.x_api_key,  # type: ignore[assignment]
                settings.publisher.x_api_secret,
                settings.publisher.x_access_token,
                settings.publisher.x_access_token_secret,
            )
        self.account = account
        self._base_url = base_url or (settings.publisher.x_api_base_url if settings else X_DEFAULT_BASE_URL)
        self._ca_bundle = (
            ca_bundle if ca_bundle is not None else (settings.publisher.x_ca_bundle if settings else None)
        )
        self._credentials = credentials
        self._max_image_bytes = max_image_bytes
        # Image URLs come from feeds: fetched only from public addresses unless allowed.
        self._allow_private_networks = allow_private_networks or bool(
            settings is not None and settings.allow_private_networks
        )
        self._timeout = timeout
        self._client: AsyncClient | None = None
        self._user_id: str | None = None
        check_base_url(self._base_url)

    @property
    def base_url(self) -> str:
        return self._base_url

    def _secrets(self) -> tuple[str, str, str, str]:
        key, secret, token, token_secret = (s.get_secret_value() for s in self._credentials)
        return key, secret, token, token_secret

    def _ensure_client(self) -> AsyncClient:
        # Built on first use: an aiohttp session belongs to the running loop, and nothing may
        # connect (or even need a loop) while the service is only being built.
        if self._client is None:
            self._client = x_client(self._credentials, self._base_url, self._ca_bundle, timeout=self._timeout)
        return self._client

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        client = self._ensure_client()
        media_ids, notes = await self._upload_images(outgoing)
        response = await self._call(
            client.create_tweet(text=outgoing.text, media_ids=media_ids or None, user_auth=True)
        )
        data: dict[str, Any] = (await _json(response)).get("data") or {}
        post_id = str(data.get("id", ""))
        if not post_id:
            raise TransientPostError("X answered without a post id", code="bad_response", maybe_sent=True)
        return PostResult(
            post_id=post_id,
            post_url=f"https://x.com/i/web/status/{post_id}",
            rate_limit=rate_limit_from(response.headers),
            media_ids=tuple(media_ids),
            notes=tuple(notes),
        )

    async def find_recent(self, link: str) -> PostResult | None:
        """The account's latest posts (up to 50) searched for `link` in their expanded URLs or text."""
        client = self._ensure_client()
        if self._user_id is None:
            me = await _json(await self._call(client.get_me(user_auth=True)))
            self._user_id = str((me.get("data") or {}).get("id", "")) or None
            if self._user_id is None:
                raise TransientPostError("X did not say who the account is", code="bad_response")
        response = await self._call(
            client.get_users_tweets(
                self._user_id,
                max_results=RECENT_POSTS,
                tweet_fields=["created_at", "entities"],
                user_auth=True,
            )
        )
        body = await _json(response)
        for tweet in body.get("data") or []:
            urls = ((tweet.get("entities") or {}).get("urls")) or []
            expanded = [u.get("unwound_url") or u.get("expanded_url") for u in urls]
            if any(same_link(link, url) for url in expanded) or link in (tweet.get("text") or ""):
                post_id = str(tweet["id"])
                return PostResult(
                    post_id=post_id,
                    post_url=f"https://x.com/i/web/status/{post_id}",
                    rate_limit=rate_limit_from(response.headers),
                    notes=("found on the account's recent timeline",),
                )
        return None

    async def _call(self, request: Any) -> aiohttp.ClientResponse:
        """Await a tweepy call, mapping its exceptions onto the channel errors."""
        try:
            return await request
        except tweepy.TooManyRequests as exc:
            limit = rate_limit_from(exc.response.headers)
            raise TransientPostError(
                f"rate limited: {_reason(exc)}",
                code="rate_limited",
                retry_at=float(exc.reset_time) if exc.reset_time is not None else None,
                rate_limit=limit,
            ) from exc
        except tweepy.Unauthorized as exc:
            raise PermanentPostError(
                f"X refused the credentials: {_reason(exc)}", code="auth", rate_limit=_limit(exc)
            ) from exc
        except tweepy.Forbidden as exc:
            if "duplicate" in _reason(exc).lower():
                raise DuplicatePostError(_reason(exc), code="duplicate", rate_limit=_limit(exc)) from exc
            raise PermanentPostError(_reason(exc), code="http_403", rate_limit=_limit(exc)) from exc
        except tweepy.TwitterServerError as exc:
            raise TransientPostError(
                _reason(exc), code=f"http_{exc.response.status}", rate_limit=_limit(exc)
            ) from exc
        except tweepy.HTTPException as exc:
            raise PermanentPostError(
                _reason(exc), code=f"http_{exc.response.status}", rate_limit=_limit(exc)
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise TransientPostError(f"cannot connect to X: {exc}", code="network") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientPostError(
                f"no answer from X: {type(exc).__name__}: {exc}", code="network", maybe_sent=True
            ) from exc

    async def _upload_images(self, post: OutgoingPost) -> tuple[list[str], list[str]]:
        """Media ids of the images that uploaded, and a note for each that did not."""
        media_ids: list[str] = []
        notes: list[str] = []
        for url in post.image_urls[: self.limits.max_images]:
            try:
                image = await fetch_image(
                    url, max_bytes=self._max_image_bytes, allow_private_networks=self._allow_private_networks
                )
                media_ids.append(await self._upload(image.content, image.content_type, image.filename))
            except (ImageError, _UploadError) as exc:
                notes.append(f"image not attached: {exc}")
                log.warning("%s:%s: image not attached: %s", self.name, self.account, exc)
        return media_ids, notes

    async def _upload(self, content: bytes, content_type: str, filename: str) -> str:
        """POST /2/media/upload, OAuth 1.0a-signed (a multipart body is not part of the signature,
        RFC 5849 §3.4.1.3.1), through tweepy's session."""
        client = self._ensure_client()
        assert client.session is not None
        url = X_DEFAULT_BASE_URL + MEDIA_UPLOAD_PATH
        key, secret, token, token_secret = self._secrets()
        signer = OAuth1Client(
            key, client_secret=secret, resource_owner_key=token, resource_owner_secret=token_secret
        )
        _, headers, _ = signer.sign(url, http_method="POST")
        form = aiohttp.FormData()
        form.add_field("media_category", "tweet_image")
        form.add_field("media", content, filename=filename, content_type=content_type)
        try:
            async with client.session.post(url, data=form, headers=headers) as response:
                body = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _UploadError(f"upload failed: {type(exc).__name__}: {exc}") from exc
        if status >= 300:
            raise _UploadError(f"upload answered {status}: {body[:200].decode(errors='replace')}")
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise _UploadError("upload answered with no JSON") from exc
        inner = data.get("data") or data
        media_id = inner.get("id") or inner.get("media_id_string") or inner.get("media_id")
        if not media_id:
            raise _UploadError("upload answered without a media id")
        return str(media_id)

    async def close(self) -> None:
        if self._client is not None and self._client.session is not None:
            await self._client.session.close()


class _UploadError(Exception):
    pass


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        body = await response.json(content_type=None)
    except ValueError as exc:
        raise TransientPostError("X answered with no JSON", code="bad_response", maybe_sent=True) from exc
    return body if isinstance(body, dict) else {}


def _limit(exc: tweepy.HTTPException) -> RateLimit | None:
    return rate_limit_from(getattr(exc.response, "headers", None))


def _reason(exc: tweepy.HTTPException) -> str:
    """X's own words, on one line."""
    messages = "; ".join(str(message) for message in exc.api_messages)
    status = getattr(exc.response, "status", "?")
    return f"{status} {messages}".strip() if messages else " ".join(str(exc).split())
