"""How hard to try one post: how many calls per item and account, and the backoff between them.

The posting workers read it (`services.publisher.posting`); a 429 with a reset time waits for that
reset instead (`flow.AccountLane.block_until`) and does not count as an attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from shared.backoff import equal_jitter
from shared.settings import PublisherSettings


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one post (the `publisher_max_attempts` and `publisher_backoff_*` settings)."""

    max_attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0

    @classmethod
    def of(cls, section: PublisherSettings) -> RetryPolicy:
        return cls(
            max_attempts=section.publisher_max_attempts,
            backoff_base_seconds=section.publisher_backoff_base_seconds,
            backoff_max_seconds=section.publisher_backoff_max_seconds,
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt `attempt` (1-based): base·2^(n-1), capped, with "equal jitter"
        (between half and all of it), so many workers do not retry in step."""
        draw = (rng or random).random()
        return equal_jitter(
            attempt, first=self.backoff_base_seconds, cap=self.backoff_max_seconds, jitter=draw
        )
