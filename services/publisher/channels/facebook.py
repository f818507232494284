"""A Facebook Page: Graph API `POST /{version}/{page-id}/feed` with `message`, `link` and the
Page access token (and `appsecret_proof` when the app secret is configured), over httpx.

Facebook builds the link's preview card itself, so images are not uploaded. Errors come as
`{"error": {"message", "type", "code", "error_subcode"}}`: code 190 (token) and 10/200-299
(permissions) are final, 4/17/32/613 and 80001 (throttling) are retried, 506 is a duplicate post.
Throttling state comes in `X-Page-Usage` / `X-Business-Use-Case-Usage` (percentages and
`estimated_time_to_regain_access` in minutes), surfaced as a `RateLimit`.
`find_recent` says None (cannot tell): the page feed does not echo the `link` parameter reliably.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from services.publisher.channels.base import (
    FACEBOOK_LIMITS,
    ChannelLimits,
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
    json_object,
)

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v21.0"
_THROTTLED = {4, 17, 32, 341, 613, 80001}
_TRANSIENT = {1, 2}
_AUTH = {102, 190, 10}


def rate_limit_from(headers: httpx.Headers) -> RateLimit | None:
    """The busiest of the usage headers: percent used → `remaining` out of a `limit` of 100."""
    usages: list[dict[str, Any]] = []
    for name in ("x-page-usage", "x-app-usage", "x-business-use-case-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if name == "x-business-use-case-usage" and isinstance(data, dict):
            usages.extend(u for entries in data.values() for u in entries if isinstance(u, dict))
        elif isinstance(data, dict):
            usages.append(data)
    if not usages:
        return None
    used = max(_percent_used(u) for u in usages)
    regain = max((u.get("estimated_time_to_regain_access") or 0 for u in usages), default=0)
    return RateLimit(
        limit=100, remaining=max(0, 100 - used), reset_at=time.time() + regain * 60 if regain else None
    )


_PERCENT_FIELDS = ("call_count", "total_cputime", "total_time", "call_volume", "cpu_time")


def _percent_used(usage: dict[str, Any]) -> int:
    values = [usage.get(name) for name in _PERCENT_FIELDS]
    return int(max((v for v in values if isinstance(v, int | float)), default=0))


class FacebookPageChannel:
    """Posts on one Facebook Page's feed."""

    name = "facebook"
    limits: ChannelLimits = FACEBOOK_LIMITS
    can_find_recent = False
    retry_guard = RetryGuard.NONE

    def __init__(
        self,
        *,
        account: str,
        page_id: str,
        page_access_token: SecretStr,
        app_secret: SecretStr | None = None,
        base_url: str = DEFAULT_GRAPH_URL,
        api_version: str = DEFAULT_GRAPH_VERSION,
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"Graph API base URL must be http(s)://host, got {base_url!r}")
        self.account = account
        self.page_id = page_id
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version.strip("/")
        self._token = page_access_token
        self._app_secret = app_secret
        self._verify: bool | str = str(ca_bundle) if ca_bundle else True
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, verify=self._verify)
        return self._client

    def _auth(self) -> dict[str, str]:
        token = self._token.get_secret_value()
        params = {"access_token": token}
        if self._app_secret is not None:
            params["appsecret_proof"] = hmac.new(
                self._app_secret.get_secret_value().encode(), token.encode(), hashlib.sha256
            ).hexdigest()
        return params

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        form = {"message": outgoing.text, **self._auth()}
        if outgoing.link:
            form["link"] = outgoing.link
        url = f"{self.base_url}/{self.api_version}/{self.page_id}/feed"
        try:
            response = await self._http().post(url, data=form)
        except httpx.ConnectError as exc:
            raise TransientPostError(f"cannot connect to Facebook: {exc}", code="network") from exc
        except httpx.HTTPError as exc:
            raise TransientPostError(
                f"no answer from Facebook: {type(exc).__name__}", code="network", maybe_sent=True
            ) from exc
        limit = rate_limit_from(response.headers)
        body = json_object(response)
        if response.status_code < 300 and body.get("id"):
            post_id = str(body["id"])
            page, _, story = post_id.partition("_")
            url = f"https://www.facebook.com/{page}/posts/{story}" if story else None
            return PostResult(post_id=post_id, post_url=url, rate_limit=limit)
        raise _error(response.status_code, body, limit)

    async def find_recent(self, link: str) -> PostResult | None:
        return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _error(status: int, body: dict[str, Any], limit: RateLimit | None) -> Exception:
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    code = error.get("code")
    message = " ".join(str(error.get("message") or f"HTTP {status}").split())
    reason = f"{status} {message}" + (f" (code {code})" if code is not None else "")
    if not error and status < 300:
        return TransientPostError("Facebook answered without a post id", code="bad_response", maybe_sent=True)
    if code in _THROTTLED or status == 429:
        return TransientPostError(
            f"rate limited: {reason}",
            code="rate_limited",
            retry_at=limit.reset_at if limit else None,
            rate_limit=limit,
        )
    if code == 506:
        return DuplicatePostError(reason, code="duplicate", rate_limit=limit)
    if code in _AUTH or (isinstance(code, int) and 200 <= code <= 299) or status == 401:
        return PermanentPostError(f"Facebook refused the token: {reason}", code="auth", rate_limit=limit)
    if code in _TRANSIENT or error.get("is_transient") or status >= 500:
        return TransientPostError(reason, code=f"graph_{code or status}", rate_limit=limit)
    return PermanentPostError(reason, code=f"graph_{code or status}", rate_limit=limit)
