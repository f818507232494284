"""How hard to try one post, and what to do after each transient failure. Pure: the clock and the
jitter draw are passed in.

Two phases. The first `max_attempts` calls are spaced by a short backoff (`backoff_base_seconds`
doubling to `backoff_max_seconds`): a blip. Past them the channel is taken to be down: the forum
is told once (`RetryLater.tell`: a PostFailed that says when Herald stops trying), and the post
goes on being tried with the backoff doubling up to `retry_cap_seconds`, until `give_up_seconds`
after its first failure; then it is held for a person with the reason (`GiveUp`). An X outage of a
minute therefore strands nothing. A 429 with a reset time waits for that reset instead
(`flow.AccountLane.block_until`) and does not count as an attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.backoff import equal_jitter
from shared.settings import PublisherSettings


@dataclass(frozen=True)
class RetryLater:
    """Try again at `at`; `tell`: the first attempts are spent, say so (retrying until `until`)."""

    at: datetime
    until: datetime
    tell: bool


@dataclass(frozen=True)
class GiveUp:
    """The give-up age has passed since the first failure: hold it for a person."""

    failing_for: timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one post (the `publisher_max_attempts`, `publisher_backoff_*`,
    `publisher_retry_cap_seconds` and `publisher_give_up_seconds` settings)."""

    max_attempts: int = 4
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    retry_cap_seconds: float = 300.0
    give_up_seconds: float = 24 * 3600.0

    @classmethod
    def of(cls, section: PublisherSettings) -> RetryPolicy:
        return cls(
            max_attempts=section.publisher_max_attempts,
            backoff_base_seconds=section.publisher_backoff_base_seconds,
            backoff_max_seconds=section.publisher_backoff_max_seconds,
            retry_cap_seconds=section.publisher_retry_cap_seconds,
            give_up_seconds=section.publisher_give_up_seconds,
        )

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Delay after failed attempt `attempt` (1-based): base·2^(n-1), capped, with "equal jitter"
        (between half and all of it), so many workers do not retry in step. Past `max_attempts`
        the cap is `retry_cap_seconds`."""
        draw = (rng or random).random()
        cap = self.backoff_max_seconds if attempt < self.max_attempts else self.retry_cap_seconds
        return equal_jitter(attempt, first=self.backoff_base_seconds, cap=cap, jitter=draw)

    def after_failure(
        self, attempts: int, first_failed_at: datetime, now: datetime, rng: random.Random | None = None
    ) -> RetryLater | GiveUp:
        """What to do after transient failure number `attempts` of a post first failing at
        `first_failed_at`."""
        until = first_failed_at + timedelta(seconds=self.give_up_seconds)
        if attempts >= self.max_attempts and now >= until:
            return GiveUp(failing_for=now - first_failed_at)
        at = now + timedelta(seconds=self.backoff(attempts, rng))
        if attempts >= self.max_attempts:
            at = min(at, until)  # one last try at the give-up age, not past it
        return RetryLater(at=at, until=until, tell=attempts == self.max_attempts)
