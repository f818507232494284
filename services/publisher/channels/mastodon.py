"""Mastodon as one account: `POST /api/v1/statuses` with a bearer token, over httpx.

- Never twice: every status carries `Idempotency-Key: <ledger key>`; Mastodon keeps the key for an
  hour per account and answers a repeat with the status it already made (app/controllers/concerns/
  … `Idempotency-Key` handling in PostStatusService), so a retry after a lost answer is safe.
- Images: `POST /api/v2/media` (multipart `file`); a 202 means "still processing", so the
  attachment is polled briefly (`GET /api/v1/media/:id`) before the status; an image that fails
  is left off, and the result's notes say why.
- Rate limits: `X-RateLimit-Limit/-Remaining/-Reset` (reset as an ISO 8601 time), on every answer.
- `find_recent(link)`: `verify_credentials` for the account id, then its latest statuses; one
  whose content links to `link` (or whose preview card is that link).

Mastodon.py (the library) is synchronous (requests); httpx keeps this async and small.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from services.publisher.channels.base import (
    MASTODON_LIMITS,
    ChannelLimits,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
    header_int,
    same_link,
)
from services.publisher.channels.media import DEFAULT_MAX_IMAGE_BYTES, ImageError, fetch_image

log = logging.getLogger(__name__)

RECENT_STATUSES = 40  # Mastodon's page maximum
_MEDIA_POLLS = 10


def rate_limit_from(headers: httpx.Headers) -> RateLimit | None:
    """Mastodon's `X-RateLimit-*`; the reset is an ISO 8601 time."""
    if "x-ratelimit-remaining" not in headers:
        return None
    reset_at = None
    raw = headers.get("x-ratelimit-reset")
    if raw:
        try:
            reset_at = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
        except ValueError:
            reset_at = None
    return RateLimit(
        limit=header_int(headers.get("x-ratelimit-limit")),
        remaining=header_int(headers.get("x-ratelimit-remaining")),
        reset_at=reset_at,
    )


class MastodonChannel:
    """One Mastodon account on one instance."""

    name = "mastodon"
    limits: ChannelLimits = MASTODON_LIMITS
    can_find_recent = True
    retry_guard = RetryGuard.IDEMPOTENCY_KEY

    def __init__(
        self,
        *,
        account: str,
        base_url: str,
        access_token: SecretStr,
        visibility: str = "public",
        ca_bundle: Path | None = None,
        max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
        allow_private_networks: bool = False,
        timeout: float = 30.0,
        media_poll_seconds: float = 0.5,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"Mastodon base URL must be http(s)://host, got {base_url!r}")
        self.account = account
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self._visibility = visibility
        self._verify: bool | str = str(ca_bundle) if ca_bundle else True
        self._max_image_bytes = max_image_bytes
        # Image URLs come from feeds: fetched only from public addresses unless allowed.
        self._allow_private_networks = allow_private_networks
        self._timeout = timeout
        self._media_poll_seconds = media_poll_seconds
        self._client: httpx.AsyncClient | None = None
        self._account_id: str | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # built on first use, inside the running loop
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
                timeout=self._timeout,
                verify=self._verify,
            )
        return self._client

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        media_ids, notes = await self._upload_images(outgoing)
        body: dict[str, Any] = {"status": outgoing.text, "visibility": self._visibility}
        if media_ids:
            body["media_ids"] = media_ids
        response = await self._request(
            "POST",
            "/api/v1/statuses",
            json=body,
            headers={"Idempotency-Key": outgoing.idempotency_key},
            maybe_sent=True,
        )
        status = _json(response)
        post_id = str(status.get("id", ""))
        if not post_id:
            raise TransientPostError(
                "Mastodon answered without a status id", code="bad_response", maybe_sent=True
            )
        return PostResult(
            post_id=post_id,
            post_url=status.get("url") or status.get("uri"),
            rate_limit=rate_limit_from(response.headers),
            media_ids=tuple(media_ids),
            notes=tuple(notes),
        )

    async def find_recent(self, link: str) -> PostResult | None:
        if self._account_id is None:
            me = _json(await self._request("GET", "/api/v1/accounts/verify_credentials"))
            self._account_id = str(me.get("id", "")) or None
            if self._account_id is None:
                raise TransientPostError("Mastodon did not say who the account is", code="bad_response")
        response = await self._request(
            "GET",
            f"/api/v1/accounts/{self._account_id}/statuses",
            params={"limit": RECENT_STATUSES, "exclude_replies": "true", "exclude_reblogs": "true"},
        )
        statuses = response.json() if response.content else []
        for status in statuses if isinstance(statuses, list) else []:
            content = html.unescape(status.get("content") or "")
            card = status.get("card") or {}
            if link in content or same_link(card.get("url"), link):
                return PostResult(
                    post_id=str(status["id"]),
                    post_url=status.get("url") or status.get("uri"),
                    rate_limit=rate_limit_from(response.headers),
                    notes=("found on the account's recent statuses",),
                )
        return None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        maybe_sent: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call, its failures mapped onto the channel errors with Mastodon's own reason."""
        try:
            response = await self._http().request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            raise TransientPostError(f"cannot connect to Mastodon: {exc}", code="network") from exc
        except httpx.HTTPError as exc:
            raise TransientPostError(
                f"no answer from Mastodon: {type(exc).__name__}: {exc}", code="network", maybe_sent=maybe_sent
            ) from exc
        if response.status_code < 300:
            return response
        limit = rate_limit_from(response.headers)
        reason = f"{response.status_code} {_error(response)}"
        if response.status_code == 429:
            raise TransientPostError(
                f"rate limited: {reason}",
                code="rate_limited",
                retry_at=limit.reset_at if limit else None,
                rate_limit=limit,
            )
        if response.status_code in (401, 403):
            raise PermanentPostError(f"Mastodon refused the token: {reason}", code="auth", rate_limit=limit)
        if response.status_code >= 500 or response.status_code == 408:
            raise TransientPostError(reason, code=f"http_{response.status_code}", rate_limit=limit)
        raise PermanentPostError(reason, code=f"http_{response.status_code}", rate_limit=limit)

    async def _upload_images(self, post: OutgoingPost) -> tuple[list[str], list[str]]:
        media_ids: list[str] = []
        notes: list[str] = []
        for url in post.image_urls[: self.limits.max_images]:
            try:
                media_ids.append(await self._upload(url, post.title))
            except (ImageError, TransientPostError, PermanentPostError) as exc:
                notes.append(f"image not attached: {exc}")
                log.warning("%s:%s: image not attached: %s", self.name, self.account, exc)
        return media_ids, notes

    async def _upload(self, url: str, description: str | None) -> str:
        image = await fetch_image(
            url, max_bytes=self._max_image_bytes, allow_private_networks=self._allow_private_networks
        )
        data = {"description": description[:1500]} if description else None
        response = await self._request(
            "POST",
            "/api/v2/media",
            files={"file": (image.filename, image.content, image.content_type)},
            data=data,
        )
        attachment = _json(response)
        media_id = str(attachment.get("id", ""))
        if not media_id:
            raise ImageError("Mastodon answered the upload without an id")
        polls = 0
        while response.status_code in (202, 206) or not attachment.get("url"):
            polls += 1
            if polls > _MEDIA_POLLS:
                raise ImageError(f"Mastodon is still processing media {media_id}")
            await asyncio.sleep(self._media_poll_seconds)
            response = await self._request("GET", f"/api/v1/media/{media_id}")
            attachment = _json(response)
        return media_id

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TransientPostError(
            f"Mastodon answered {response.status_code} with no JSON", code="bad_response", maybe_sent=True
        ) from exc
    return body if isinstance(body, dict) else {}


def _error(response: httpx.Response) -> str:
    """Mastodon's `{"error": "..."}`, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text[:200].split())
    if isinstance(body, dict) and body.get("error"):
        return str(body["error"])
    return " ".join(str(body)[:200].split())
