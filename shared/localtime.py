"""Rules of the council's local time (Europe/London unless configured): daily quiet windows and the
boundaries of a daily or weekly schedule. Pure: the instant is passed in, answers are UTC.

Local times are read through zoneinfo, so the clocks going forward or back move the UTC answer, not
the local one: a digest at 08:30 is at 08:30 on the clock on the wall in winter and in summer, and
the day the clocks change has 23 or 25 hours. A local time that day does not have (in the hour the
clocks skip) is read as the same time an hour on; one it has twice, as the first of the two.

Aware datetimes of one zone compare by wall time in Python, so every comparison here is in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, model_validator

LONDON = "Europe/London"

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


def zone_named(name: str) -> ZoneInfo:
    """The zone, or ValueError naming it (for a config validator)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def at_local(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of `clock` on `day` in `zone` (fold 0: see the module docstring)."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


class QuietHours(BaseModel):
    """Nothing goes out from `start` until `end` (local time; may cross midnight)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(description="Local time the quiet window opens, e.g. 22:00.")
    end: time = Field(description="Local time it closes, e.g. 07:00.")


def quiet_window_end(window: QuietHours, now: datetime, zone: ZoneInfo) -> datetime | None:
    """If `now` is inside the window, when it closes (UTC); else None."""
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    start, end = window.start, window.end
    if start == end:
        return None
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    return at_local(day, end, zone)


class Schedule(BaseModel):
    """A daily or weekly moment in local time: `every: daily, at: "08:30"` or
    `every: weekly, at: "08:30", weekday: monday`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: Literal["daily", "weekly"]
    at: time = Field(default=time(8, 30), description="Local time of day, e.g. 08:30.")
    weekday: Weekday | None = Field(default=None, description="For `weekly`: the day, e.g. monday.")

    @model_validator(mode="after")
    def _weekday_for_weekly(self) -> Schedule:
        if self.every == "weekly" and self.weekday is None:
            raise ValueError("a weekly schedule needs weekday: (monday … sunday)")
        if self.every == "daily" and self.weekday is not None:
            raise ValueError("weekday: is for a weekly schedule")
        return self

    def _days(self, around: date, step: int) -> Iterator[date]:
        """The schedule's days from `around` (inclusive) forwards (step 1) or backwards (-1)."""
        day = around
        while True:
            if self.weekday is None or day.weekday() == WEEKDAYS.index(self.weekday):
                yield day
            day += timedelta(days=step)

    def next_after(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The first boundary strictly after `instant` (UTC): the end of the window holding it."""
        start = instant.astimezone(zone).date() - timedelta(days=1)
        return next(b for b in (at_local(d, self.at, zone) for d in self._days(start, 1)) if b > instant)

    def last_at_or_before(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The latest boundary at or before `instant` (UTC): the start of the window holding it,
        and the end of the latest window that is over."""
        start = instant.astimezone(zone).date() + timedelta(days=1)
        return next(b for b in (at_local(d, self.at, zone) for d in self._days(start, -1)) if b <= instant)
