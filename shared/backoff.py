"""Capped exponential backoff with "equal jitter", the one rule every retrying part of Herald uses
(the publisher's posts, the notifier's alerts): `first · 2^(n-1)`, capped, then between half and
all of it, so many workers recovering at once do not retry in step."""

from __future__ import annotations


def equal_jitter(attempts: int, *, first: float, cap: float, jitter: float) -> float:
    """Seconds to wait after `attempts` failed tries (1-based); `jitter` is a draw in [0, 1)."""
    ceiling = min(cap, first * 2 ** max(0, attempts - 1))
    return ceiling * (0.5 + 0.5 * jitter)
