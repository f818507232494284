"""The one backoff rule: doubling from the first delay, capped, then half to all of it."""

from __future__ import annotations

import pytest

from shared.backoff import equal_jitter


@pytest.mark.parametrize(("attempts", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)])
def test_doubles_to_the_cap_and_jitters_in_its_upper_half(attempts: int, ceiling: float) -> None:
    assert equal_jitter(attempts, first=1.0, cap=8.0, jitter=0.0) == ceiling / 2
    assert equal_jitter(attempts, first=1.0, cap=8.0, jitter=0.999999) == pytest.approx(ceiling, rel=1e-5)
