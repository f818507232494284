"""The backoff between tries of one post: doubling from the base, capped, with equal jitter."""

from __future__ import annotations

import random

from services.publisher.retry import RetryPolicy
from shared.settings import load_settings

POLICY = RetryPolicy(max_attempts=6, backoff_base_seconds=1.0, backoff_max_seconds=8.0)


def test_backoff_doubles_with_equal_jitter() -> None:
    rng = random.Random(1)
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0)):
        delays = [POLICY.backoff(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not in step


def test_the_policy_comes_from_the_publisher_settings(monkeypatch) -> None:
    monkeypatch.setenv("HERALD_PUBLISHER_MAX_ATTEMPTS", "2")
    policy = RetryPolicy.of(load_settings(publisher_backoff_max_seconds=3).publisher)
    assert (policy.max_attempts, policy.backoff_base_seconds, policy.backoff_max_seconds) == (2, 1.0, 3.0)


def test_backoff_is_capped() -> None:
    assert all(4.0 <= POLICY.backoff(10, random.Random(seed)) <= 8.0 for seed in range(50))
