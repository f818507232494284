"""Schedule boundaries and quiet windows in Europe/London, across the days the clocks change
(2026: forward on Sunday 29 March at 01:00 UTC, back on Sunday 25 October at 01:00 UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from shared.localtime import QuietHours, Schedule, quiet_window_end

LONDON = ZoneInfo("Europe/London")
DAILY = Schedule(every="daily", at=time(8, 30))
WEEKLY = Schedule(every="weekly", at=time(8, 30), weekday="monday")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_a_daily_window_ends_at_the_local_time_in_winter_and_in_summer() -> None:
    assert DAILY.next_after(utc(2026, 1, 10, 12), LONDON) == utc(2026, 1, 11, 8, 30)
    assert DAILY.next_after(utc(2026, 7, 10, 12), LONDON) == utc(2026, 7, 11, 7, 30)  # 08:30 BST
    # A boundary belongs to the window it starts, not to the one it ends.
    assert DAILY.next_after(utc(2026, 1, 11, 8, 30), LONDON) == utc(2026, 1, 12, 8, 30)
    assert DAILY.last_at_or_before(utc(2026, 1, 11, 8, 30), LONDON) == utc(2026, 1, 11, 8, 30)
    assert DAILY.last_at_or_before(utc(2026, 1, 11, 8, 29, 59), LONDON) == utc(2026, 1, 10, 8, 30)


def test_the_windows_around_the_clocks_changing_are_23_and_25_hours() -> None:
    spring_end = DAILY.next_after(utc(2026, 3, 28, 12), LONDON)
    assert spring_end == utc(2026, 3, 29, 7, 30)  # 08:30 BST on the morning the clocks went forward
    assert spring_end - DAILY.last_at_or_before(utc(2026, 3, 28, 12), LONDON) == timedelta(hours=23)
    autumn_end = DAILY.next_after(utc(2026, 10, 24, 12), LONDON)
    assert autumn_end == utc(2026, 10, 25, 8, 30)  # 08:30 GMT
    assert autumn_end - DAILY.last_at_or_before(utc(2026, 10, 24, 12), LONDON) == timedelta(hours=25)


def test_consecutive_windows_leave_no_gap_and_no_overlap_over_a_year() -> None:
    instant = utc(2026, 1, 1)
    end = DAILY.next_after(instant, LONDON)
    for _ in range(400):
        following = DAILY.next_after(end, LONDON)
        assert DAILY.last_at_or_before(following - timedelta(microseconds=1), LONDON) == end
        assert following.astimezone(LONDON).time() == time(8, 30)
        end = following


def test_a_weekly_window_ends_on_its_weekday() -> None:
    # Wednesday 25 March 2026 → Monday 30 March, 08:30 BST (the clocks went forward on the 29th).
    assert WEEKLY.next_after(utc(2026, 3, 25, 12), LONDON) == utc(2026, 3, 30, 7, 30)
    assert WEEKLY.last_at_or_before(utc(2026, 3, 25, 12), LONDON) == utc(2026, 3, 23, 8, 30)
    # Monday before 08:30: the window ends that morning.
    assert WEEKLY.next_after(utc(2026, 3, 30, 7), LONDON) == utc(2026, 3, 30, 7, 30)
    assert WEEKLY.next_after(utc(2026, 3, 30, 7, 30), LONDON) == utc(2026, 4, 6, 7, 30)


def test_a_schedule_says_what_is_missing() -> None:
    with pytest.raises(ValidationError, match="weekday"):
        Schedule(every="weekly", at=time(8))
    with pytest.raises(ValidationError, match="weekday"):
        Schedule(every="daily", weekday="monday")


QUIET = QuietHours(start=time(22), end=time(7))


def test_quiet_hours_across_midnight_in_winter_and_summer() -> None:
    assert quiet_window_end(QUIET, utc(2026, 1, 10, 23), LONDON) == utc(2026, 1, 11, 7)
    assert quiet_window_end(QUIET, utc(2026, 1, 10, 21, 59), LONDON) is None
    assert quiet_window_end(QUIET, utc(2026, 7, 10, 21, 30), LONDON) == utc(2026, 7, 11, 6)  # 22:30 BST
    assert quiet_window_end(QUIET, utc(2026, 7, 11, 6), LONDON) is None  # 07:00 BST: open again


def test_quiet_hours_on_the_nights_the_clocks_change() -> None:
    # Saturday night 28 March 23:00 GMT: the night is an hour short; quiet until 07:00 BST.
    assert quiet_window_end(QUIET, utc(2026, 3, 28, 23), LONDON) == utc(2026, 3, 29, 6)
    # Saturday night 24 October 23:00 BST (22:00 UTC): an hour longer; quiet until 07:00 GMT.
    assert quiet_window_end(QUIET, utc(2026, 10, 24, 22), LONDON) == utc(2026, 10, 25, 7)
    # 01:30 happens twice on 25 October; both are quiet and end at the same 07:00.
    first, second = utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 30)
    assert first.astimezone(LONDON).time() == second.astimezone(LONDON).time() == time(1, 30)
    assert quiet_window_end(QUIET, first, LONDON) == quiet_window_end(QUIET, second, LONDON)
