"""An X account checked through tweepy: `GET /2/users/by/username/:u` (protected?), then the
newest of its posts, `GET /2/users/:id/tweets` (active?). A rate limit gives X's
`x-rate-limit-reset` as the result's `retry_at`; every other error is inconclusive too."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from services.directory.checks.rules import CheckResult, by_activity, inconclusive, newest_post, x_user
from shared.x_api import LazyXClient, XCredentials, check_base_url

log = logging.getLogger(__name__)

#: X allows 5–100 per page; the newest post is all a check needs.
POSTS_LOOKED_AT = 5


class XChecker:
    platform = "x"

    def __init__(
        self,
        credentials: XCredentials,
        *,
        base_url: str,
        ca_bundle: Path | None,
        inactive_after: timedelta,
        timeout: float = 30.0,
    ) -> None:
        check_base_url(base_url)
        self._inactive_after = inactive_after
        self._x = LazyXClient(credentials, base_url, ca_bundle, timeout=timeout)

    def client(self) -> AsyncClient:
        return self._x.get()

    async def check(self, handle: str, now: datetime) -> CheckResult:
        client = self.client()
        try:
            found = x_user(
                await _json(
                    await client.get_user(
                        username=handle, user_fields=["protected", "most_recent_tweet_id"], user_auth=True
                    )
                )
            )
            if isinstance(found, CheckResult):
                return found
            posts = await _json(
                await client.get_users_tweets(
                    found["id"], max_results=POSTS_LOOKED_AT, tweet_fields=["created_at"], user_auth=True
                )
            )
        except tweepy.TooManyRequests as exc:
            return inconclusive(
                "rate limited by X", retry_at=float(exc.reset_time) if exc.reset_time else None
            )
        except tweepy.HTTPException as exc:
            return inconclusive(f"X answered {getattr(exc.response, 'status', '?')}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return inconclusive(f"no answer from X: {type(exc).__name__}")
        return by_activity(newest_post(posts), now, self._inactive_after)

    async def close(self) -> None:
        await self._x.close()


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    body = await response.json(content_type=None)  # ValueError if it is not JSON
    if not isinstance(body, dict):
        raise ValueError("X answered JSON that is not an object")
    return body
