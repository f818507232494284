"""The backoff between tries of one post: doubling from the base, capped, with equal jitter; past
the first attempts a longer cap, one word to the forum, and a person only after the give-up age."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.publisher.retry import GiveUp, RetryLater, RetryPolicy
from shared.settings import load_settings

POLICY = RetryPolicy(
    max_attempts=6,
    backoff_base_seconds=1.0,
    backoff_max_seconds=8.0,
    retry_cap_seconds=60.0,
    give_up_seconds=3600,
)
FIRST = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_backoff_doubles_with_equal_jitter() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)):
        delays = [POLICY.backoff(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not in step


def test_the_policy_comes_from_the_publisher_settings(monkeypatch) -> None:
    monkeypatch.setenv("HERALD_PUBLISHER_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("HERALD_PUBLISHER_GIVE_UP_SECONDS", "600")
    policy = RetryPolicy.of(load_settings(publisher_backoff_max_seconds=3).publisher)
    assert (policy.max_attempts, policy.backoff_base_seconds, policy.backoff_max_seconds) == (2, 1.0, 3.0)
    assert (policy.retry_cap_seconds, policy.give_up_seconds) == (300.0, 600.0)


def test_backoff_is_capped_in_each_phase() -> None:
    assert all(4.0 <= POLICY.backoff(5, random.Random(seed)) <= 8.0 for seed in range(50))
    assert all(30.0 <= POLICY.backoff(10, random.Random(seed)) <= 60.0 for seed in range(50))


def test_the_first_attempts_retry_quietly_then_the_forum_is_told_once() -> None:
    steps = [
        POLICY.after_failure(n, FIRST, FIRST + timedelta(seconds=n), random.Random(n)) for n in range(1, 9)
    ]
    assert all(isinstance(step, RetryLater) for step in steps)
    assert [step.tell for step in steps] == [False] * 5 + [True] + [False] * 2  # type: ignore[union-attr]
    assert all(step.until == FIRST + timedelta(hours=1) for step in steps)  # type: ignore[union-attr]


def test_past_the_give_up_age_a_person_decides_and_no_retry_is_planned_after_it() -> None:
    late = FIRST + timedelta(seconds=3599)
    step = POLICY.after_failure(20, FIRST, late, random.Random(1))
    assert isinstance(step, RetryLater) and step.at == FIRST + timedelta(hours=1)  # not beyond the age
    gave_up = POLICY.after_failure(21, FIRST, FIRST + timedelta(hours=1), random.Random(1))
    assert gave_up == GiveUp(failing_for=timedelta(hours=1))
    # Within the first attempts nothing gives up, however old: a short give-up age still gets its tries.
    early = POLICY.after_failure(2, FIRST, FIRST + timedelta(days=2), random.Random(1))
    assert isinstance(early, RetryLater) and early.at > FIRST + timedelta(days=2)  # with its backoff
