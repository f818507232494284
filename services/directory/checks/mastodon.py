"""A Mastodon account checked with `GET /api/v1/accounts/lookup?acct=user@host` (public, no token),
through httpx. Asked of the account's own server, or of `HERALD_DIRECTORY_MASTODON_BASE_URL` when
set. A server named by a handle is a URL from data: it is vetted like a feed's
(`shared.netsafety`), so a handle cannot make the directory probe an internal address."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from services.directory.checks.rules import CheckResult, inconclusive, mastodon_account
from shared.netsafety import UnsafeURL, check_url

LOOKUP_PATH = "/api/v1/accounts/lookup"


class MastodonChecker:
    platform = "mastodon"

    def __init__(
        self,
        *,
        base_url: str | None,
        inactive_after: timedelta,
        allow_private_networks: bool,
        timeout: float = 30.0,
    ) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        self._inactive_after = inactive_after
        self._allow_private = allow_private_networks
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def check(self, handle: str, now: datetime) -> CheckResult:
        acct = handle.removeprefix("@")
        host = acct.partition("@")[2]
        server = self._base_url or f"https://{host}"
        url = server + LOOKUP_PATH
        try:
            if self._base_url is None:
                await check_url(url, allow_private=self._allow_private)
            response = await self._http.get(
                url, params={"acct": acct}, headers={"Accept": "application/json"}
            )
            body = response.json() if response.status_code == 200 else None
        except UnsafeURL as exc:
            return inconclusive(f"server refused: {exc.kind}")
        except httpx.HTTPError as exc:
            return inconclusive(f"no answer from Mastodon: {type(exc).__name__}")
        except ValueError:
            return inconclusive("Mastodon answered with no JSON")
        result = mastodon_account(response.status_code, body, now, self._inactive_after)
        if response.status_code == 429:
            return inconclusive(result.detail, retry_at=_reset(response))
        return result

    async def close(self) -> None:
        await self._http.aclose()


def _reset(response: httpx.Response) -> float | None:
    """Mastodon's `X-RateLimit-Reset` is an ISO 8601 time."""
    raw = response.headers.get("X-RateLimit-Reset")
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() if raw else None
    except ValueError:
        return None
