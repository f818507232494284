"""The notifier's sense of now: the system clock, or a clock set by writing an instant into a file
(HERALD_NOTIFIER_CLOCK_FILE), so a digest's window boundary, quiet hours and reminders can be
rehearsed — and tested against a real worker — without waiting for 08:30.

The file says what the time was when it was written; the clock runs on from there (the instant
plus the time since the file's modification), so backoff and retries still see time pass, and a
restarted worker reads the same time as the one before it.

Every time-dependent decision in the notifier takes its `now` from the one `Clock` the app builds;
the deciders themselves stay pure.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class ClockFileError(ValueError):
    """The clock file cannot be read as an instant (one line, naming the setting)."""


class FileClock:
    """Now, as the file set it: re-read when its modification time changes; a file that turns
    unreadable keeps the clock it had (and says so once), so time never jumps to 1970."""

    SETTING = "HERALD_NOTIFIER_CLOCK_FILE"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: int | None = None
        self._set_at, self._written = self._read()

    def __call__(self) -> datetime:
        try:
            stamp = self.path.stat().st_mtime_ns
        except OSError:
            stamp = self._seen
        if stamp != self._seen:
            try:
                self._set_at, self._written = self._read()
            except ClockFileError as exc:
                log.warning("%s; the clock runs on from %s", exc, self._set_at.isoformat())
                self._seen = stamp
        return self._set_at + timedelta(seconds=max(0.0, time.time() - self._written))

    def _read(self) -> tuple[datetime, float]:
        """The instant in the file, and when (epoch seconds) the file was written."""
        try:
            stat = self.path.stat()
            self._seen = stat.st_mtime_ns
            text = self.path.read_text(encoding="utf-8").strip()
            value = datetime.fromisoformat(text)
        except (OSError, ValueError) as exc:
            raise ClockFileError(f"{self.SETTING}={self.path}: not an ISO-8601 instant: {exc}") from None
        if value.tzinfo is None:
            raise ClockFileError(f"{self.SETTING}={self.path}: the instant needs a UTC offset, e.g. +00:00")
        return value.astimezone(UTC), stat.st_mtime
