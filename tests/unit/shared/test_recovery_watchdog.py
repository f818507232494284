"""The recovery watchdog's decider: a recovery that reads nothing for the bound has stalled;
progress or a finished recovery starts the count again."""

from __future__ import annotations

import pytest

from shared.recovery_watchdog import RecoverySample, StallDecider

STALL = 15.0
IDLE = RecoverySample(in_recovery=False, remaining=0)


def recovering(remaining: int) -> RecoverySample:
    return RecoverySample(in_recovery=True, remaining=remaining)


def test_not_recovering_is_never_a_stall():
    decider = StallDecider(STALL)
    assert [decider.stalled(IDLE, t) for t in (0.0, 100.0, 1000.0)] == [False] * 3


def test_a_recovery_reading_nothing_for_the_bound_has_stalled():
    decider = StallDecider(STALL)
    assert not decider.stalled(recovering(270), 0.0)
    assert not decider.stalled(recovering(270), STALL - 0.1)
    assert decider.stalled(recovering(270), STALL)


def test_progress_starts_the_window_again():
    decider = StallDecider(STALL)
    decider.stalled(recovering(270), 0.0)
    assert not decider.stalled(recovering(200), STALL - 1)  # read 70 records
    assert not decider.stalled(recovering(200), 2 * STALL - 2)
    assert decider.stalled(recovering(200), 2 * STALL - 1)


def test_a_finished_recovery_starts_the_count_again():
    decider = StallDecider(STALL)
    decider.stalled(recovering(5), 0.0)
    assert not decider.stalled(IDLE, STALL - 1)
    assert not decider.stalled(recovering(5), STALL)  # the next rebalance's recovery
    assert decider.stalled(recovering(5), 2 * STALL)


def test_a_recovery_stuck_with_nothing_left_to_read_is_a_stall_too():
    decider = StallDecider(STALL)
    decider.stalled(recovering(0), 0.0)
    assert decider.stalled(recovering(0), STALL)


def test_the_bound_must_be_positive():
    with pytest.raises(ValueError, match="stall_seconds must be positive"):
        StallDecider(0)
