"""One HTTP call for every webhook-style adapter, its outcome classified the same way.

2xx: accepted. 408, 425, 429, 5xx: transient, honouring `Retry-After` (seconds or an HTTP date).
Other 4xx: permanent (the same call would fail again). No connection: transient (nothing went
out). A timeout or a broken connection after the request was written: ambiguous.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.notifier.adapters import DeliveryError

RETRYABLE_STATUSES = {408, 425, 429}


def host_label(url: str) -> str:
    """Where a target lives, for logs and ops errors: host and port only — never the user and
    password a webhook URL may carry, nor the path (Slack's and Discord's hold the secret)."""
    parts = urlsplit(url)
    return f"{parts.hostname or '?'}{f':{parts.port}' if parts.port else ''}"


class HttpSender:
    """An httpx client per adapter (made on first use, in the running loop)."""

    def __init__(self, where: str, timeout: float) -> None:
        self.where = where  # host:port only: webhook paths are secrets
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        try:
            response = await self._client.request(method, url, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__}", "transient") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__} (no answer)", "ambiguous") from None
        status = response.status_code
        if 200 <= status < 300:
            return response
        if status in RETRYABLE_STATUSES or status >= 500:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            raise DeliveryError(f"{self.where}: HTTP {status}", "transient", retry_after=retry_after)
        raise DeliveryError(f"{self.where}: HTTP {status}", "permanent")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds from now (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
