"""How hard to try one post: how many calls per item and account, and the backoff between them.

The posting workers read it (`services.publisher.posting`); a 429 with a reset time waits for that
reset instead (`flow.AccountLane.block_until`) and does not count as an attempt.
"""

from __future__ import annotations

import random

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RetryPolicy(BaseSettings):
    """How hard to try one post; `HERALD_PUBLISHER_*` environment variables override the defaults."""

    model_config = SettingsConfigDict(env_prefix="HERALD_PUBLISHER_", extra="ignore", frozen=True)

    max_attempts: int = Field(default=4, ge=1, description="Calls per item and channel account.")
    backoff_base_seconds: float = Field(default=1.0, ge=0, description="First backoff; doubles each try.")
    backoff_max_seconds: float = Field(default=30.0, ge=0, description="Longest single backoff.")

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt `attempt` (1-based): base·2^(n-1), capped, with "equal jitter"
        (between half and all of it), so many workers do not retry in step."""
        ceiling = min(self.backoff_max_seconds, self.backoff_base_seconds * 2 ** (attempt - 1))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
