"""Retries, backoff and rate-limit waits, with a scripted in-memory channel (no I/O)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.publisher.channels import (
    DuplicatePostError,
    PermanentPostError,
    PostResult,
    TransientPostError,
)
from services.publisher.delivery import Delivered, NotDelivered, RetryPolicy, deliver
from shared.events import FeedItemDiscovered

ITEM = FeedItemDiscovered(
    item_id="i",
    feed_id="f",
    feed_url="https://e.gov.uk/feed",
    title="t",
    content_hash="h",
    discovered_at=datetime(2026, 1, 1, tzinfo=UTC),
)
POLICY = RetryPolicy(
    max_attempts=4, backoff_base_seconds=1.0, backoff_max_seconds=8.0, rate_limit_max_wait_seconds=60
)


class ScriptedChannel:
    name = "x"
    account = "corporate"

    def __init__(self, *outcomes: Exception | None) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    async def post(self, text: str, item: FeedItemDiscovered) -> PostResult:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        return PostResult(post_id=str(self.calls), post_url=None)

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


async def run(
    channel: ScriptedChannel, clock: Clock, policy: RetryPolicy = POLICY
) -> Delivered | NotDelivered:
    return await deliver(channel, "text", ITEM, policy, sleep=clock.sleep, clock=clock, rng=random.Random(1))


async def test_transient_errors_are_retried_with_growing_jittered_backoff() -> None:
    clock = Clock()
    channel = ScriptedChannel(
        TransientPostError("500", code="http_500"), TransientPostError("500", code="http_500")
    )
    outcome = await run(channel, clock)
    assert isinstance(outcome, Delivered) and outcome.attempts == 3
    assert 0.5 <= clock.sleeps[0] <= 1.0 and 1.0 <= clock.sleeps[1] <= 2.0


async def test_permanent_errors_are_not_retried() -> None:
    for error in (PermanentPostError("401", code="auth"), DuplicatePostError("dup", code="duplicate")):
        clock = Clock()
        outcome = await run(ScriptedChannel(error), clock)
        assert isinstance(outcome, NotDelivered) and not outcome.retryable and outcome.attempts == 1
        assert clock.sleeps == []


async def test_gives_up_after_max_attempts_as_retryable() -> None:
    clock = Clock()
    channel = ScriptedChannel(*[TransientPostError("500", code="http_500")] * 10)
    outcome = await run(channel, clock)
    assert isinstance(outcome, NotDelivered) and outcome.retryable and channel.calls == 4
    assert len(clock.sleeps) == 3


async def test_rate_limit_waits_until_the_reset() -> None:
    clock = Clock()
    channel = ScriptedChannel(TransientPostError("429", code="rate_limited", retry_at=clock.now + 5))
    outcome = await run(channel, clock)
    assert isinstance(outcome, Delivered)
    assert clock.sleeps == [6.0]  # until the reset second has passed, never earlier


async def test_rate_limit_reset_too_far_away_gives_up_for_now() -> None:
    clock = Clock()
    channel = ScriptedChannel(TransientPostError("429", code="rate_limited", retry_at=clock.now + 3600))
    outcome = await run(channel, clock)
    assert isinstance(outcome, NotDelivered) and outcome.retryable and channel.calls == 1


async def test_duplicate_after_an_unanswered_attempt_may_have_been_posted() -> None:
    clock = Clock()
    channel = ScriptedChannel(
        TransientPostError("timeout", code="network", maybe_sent=True),
        DuplicatePostError("dup", code="duplicate"),
    )
    outcome = await run(channel, clock)
    assert isinstance(outcome, NotDelivered) and outcome.maybe_posted
