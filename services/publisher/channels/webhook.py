"""A generic webhook: one JSON POST per post, for services Herald has no channel for (Zapier, a CMS,
Teams/Slack relays…).

Body: `{"channel", "account", "idempotency_key", "item_id", "text", "link", "title",
"image_urls"}`. Headers: `Idempotency-Key`; `Authorization: Bearer <token>` when a token is set;
`X-Herald-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` with `X-Herald-Timestamp`
when a signing secret is set (the timestamp lets a receiver refuse replays). 2xx is success (the
answer's `id`, if any, is the post id); 408/429/5xx are retried (Retry-After honoured); any other
4xx is final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
from pydantic import SecretStr

from services.publisher.channels.base import (
    WEBHOOK_LIMITS,
    ChannelLimits,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
    json_object,
)

SIGNATURE_HEADER = "X-Herald-Signature"
TIMESTAMP_HEADER = "X-Herald-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value, for receivers to recompute."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookChannel:
    """POSTs each post as JSON to one URL."""

    name = "webhook"
    limits: ChannelLimits = WEBHOOK_LIMITS
    can_find_recent = False
    retry_guard = RetryGuard.NONE

    def __init__(
        self,
        *,
        account: str,
        url: str,
        token: SecretStr | None = None,
        signing_secret: SecretStr | None = None,
        ca_bundle: Path | None = None,
        timeout: float = 30.0,
        idempotent: bool = False,
    ) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError(f"webhook URL must be http(s)://…, got {url!r}")
        self.account = account
        self.url = url
        self._token = token
        self._secret = signing_secret
        self._verify: bool | str = str(ca_bundle) if ca_bundle else True
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        # A receiver that honours Idempotency-Key makes a retry safe (the account's `idempotent`).
        self.retry_guard = RetryGuard.IDEMPOTENCY_KEY if idempotent else RetryGuard.NONE

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        body = json.dumps(
            {
                "channel": self.name,
                "account": self.account,
                "idempotency_key": outgoing.idempotency_key,
                "item_id": outgoing.item_id,
                "text": outgoing.text,
                "link": outgoing.link,
                "title": outgoing.title,
                "image_urls": list(outgoing.image_urls),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": outgoing.idempotency_key}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(self._secret.get_secret_value(), timestamp, body)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, verify=self._verify)
        try:
            response = await self._client.post(self.url, content=body, headers=headers)
        except httpx.ConnectError as exc:
            raise TransientPostError(f"cannot connect to the webhook: {exc}", code="network") from exc
        except httpx.HTTPError as exc:
            raise TransientPostError(
                f"no answer from the webhook: {type(exc).__name__}", code="network", maybe_sent=True
            ) from exc
        status = response.status_code
        if status < 300:
            answer = json_object(response)
            post_id = str(answer.get("id") or outgoing.idempotency_key)
            return PostResult(post_id=post_id, post_url=answer.get("url"))
        reason = f"{status} {' '.join(response.text[:200].split())}"
        if status in (408, 429) or status >= 500:
            retry_after = _retry_after(response.headers.get("retry-after"))
            limit = RateLimit(remaining=0, reset_at=time.time() + retry_after) if retry_after else None
            raise TransientPostError(
                reason,
                code="rate_limited" if status == 429 else f"http_{status}",
                retry_after=retry_after,
                rate_limit=limit,
            )
        code = "auth" if status in (401, 403) else f"http_{status}"
        raise PermanentPostError(reason, code=code)

    async def find_recent(self, link: str) -> PostResult | None:
        return None

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
