"""The clock file: set by writing an instant, runs on from the file's modification time, keeps
going when the file turns unreadable, refuses an instant without an offset."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.notifier.clock import ClockFileError, FileClock
from tests.support.processes import run_service


def write(path: Path, text: str, written: float) -> None:
    path.write_text(text)
    os.utime(path, (written, written))


def test_the_clock_runs_on_from_the_instant_the_file_was_written(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    minute_ago = time.time() - 60
    write(path, "2026-03-02T08:00:00+00:00", minute_ago)
    clock = FileClock(path)
    now = clock()
    assert (
        datetime(2026, 3, 2, 8, 1, tzinfo=UTC)
        <= now
        < datetime(2026, 3, 2, 8, 1, tzinfo=UTC) + timedelta(minutes=5)
    )
    write(path, "2026-10-25T01:30:00+01:00", time.time())  # set again: an offset is honoured
    assert clock() >= datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert clock() < datetime(2026, 10, 25, 0, 35, tzinfo=UTC)
    write(path, "not a time", time.time())  # unreadable: the clock goes on from where it was
    assert datetime(2026, 10, 25, 0, 30, tzinfo=UTC) <= clock() < datetime(2026, 10, 25, 0, 35, tzinfo=UTC)


def test_a_bad_clock_file_is_one_error_naming_the_setting(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("2026-03-02T08:00:00")
    with pytest.raises(ClockFileError, match="HERALD_NOTIFIER_CLOCK_FILE=.*needs a UTC offset"):
        FileClock(path)
    with pytest.raises(ClockFileError, match="HERALD_NOTIFIER_CLOCK_FILE=.*not an ISO-8601 instant"):
        FileClock(tmp_path / "missing")


def test_the_service_refuses_to_start_on_a_bad_clock_file_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    path.write_text("tomorrow at nine")
    env = {
        "HERALD_NOTIFIER_CLOCK_FILE": str(path),
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "HERALD_STATE_DIR": str(tmp_path / "state"),
    }
    done = run_service("notifier", env)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"herald notifier: HERALD_NOTIFIER_CLOCK_FILE={path}: not an ISO-8601 instant")
    assert "Traceback" not in done.stderr
