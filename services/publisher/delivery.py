"""One post, tried a few times: exponential backoff with jitter for transient errors, waiting for
X's `x-rate-limit-reset` on a 429 (bounded), never retrying a permanent error.

The retries happen inside the item's handler (the agent runs at concurrency 1, so the partition
waits; the bounds keep that far below the consumer's poll interval). What is left after the last
try is the caller's: PostFailed(retryable=True) and the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.publisher.channels import (
    Channel,
    DuplicatePostError,
    PermanentPostError,
    PostResult,
    TransientPostError,
)
from shared.events import FeedItemDiscovered

log = logging.getLogger(__name__)


class RetryPolicy(BaseSettings):
    """How hard to try one post; `HERALD_PUBLISHER_*` environment variables override the defaults."""

    model_config = SettingsConfigDict(env_prefix="HERALD_PUBLISHER_", extra="ignore", frozen=True)

    max_attempts: int = Field(default=4, ge=1, description="Calls per item and channel account.")
    backoff_base_seconds: float = Field(default=1.0, ge=0, description="First backoff; doubles each try.")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="Longest single backoff.")
    rate_limit_max_wait_seconds: float = Field(
        default=120.0, ge=0, description="Longest wait for X's rate-limit reset before giving up for now."
    )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt `attempt` (1-based): base·2^(n-1), capped, with "equal jitter"
        (between half and all of it), so many workers do not retry in step."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


@dataclass(frozen=True)
class Delivered:
    result: PostResult
    attempts: int


@dataclass(frozen=True)
class NotDelivered:
    """The last error, how many calls were made, and whether any of them may have gone out."""

    error: TransientPostError | PermanentPostError
    attempts: int
    maybe_posted: bool

    @property
    def retryable(self) -> bool:
        return isinstance(self.error, TransientPostError)


Sleep = Callable[[float], Awaitable[None]]


async def deliver(
    channel: Channel,
    text: str,
    item: FeedItemDiscovered,
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    clock: Callable[[], float] = time.time,
    rng: random.Random | None = None,
) -> Delivered | NotDelivered:
    """Post `text`, retrying transient errors per `policy`. Never raises a channel error."""
    maybe_posted = False
    attempt = 0
    while True:
        attempt += 1
        try:
            return Delivered(await channel.post(text, item), attempt)
        except DuplicatePostError as exc:
            # After an attempt with no answer, "duplicate" may well mean that attempt went out.
            return NotDelivered(exc, attempt, maybe_posted=maybe_posted)
        except PermanentPostError as exc:
            return NotDelivered(exc, attempt, maybe_posted=maybe_posted)
        except TransientPostError as exc:
            maybe_posted = maybe_posted or exc.maybe_sent
            if attempt >= policy.max_attempts:
                return NotDelivered(exc, attempt, maybe_posted=maybe_posted)
            if exc.retry_at is not None:
                delay = max(0.0, exc.retry_at - clock()) + 1.0  # X's reset is whole seconds
                if delay > policy.rate_limit_max_wait_seconds:
                    log.warning(
                        "rate limit resets in %.0fs, beyond %.0fs: giving up for now",
                        delay,
                        policy.rate_limit_max_wait_seconds,
                    )
                    return NotDelivered(exc, attempt, maybe_posted=maybe_posted)
            else:
                delay = policy.backoff(attempt, rng)
            log.warning(
                "%s:%s attempt %d for %s failed (%s: %s); retrying in %.1fs",
                channel.name,
                channel.account,
                attempt,
                item.item_id,
                exc.code,
                exc.reason,
                delay,
            )
            await sleep(delay)
