"""`shared.report_batches` without a broker (its batches through a real one: tests/integration)."""

from __future__ import annotations

import logging

import pytest

from shared.report_batches import ReportBatches
from shared.topics import FEED_HEALTH


class Tally:
    counted = 0

    def count(self) -> None:
        self.counted += 1


async def test_without_a_running_producer_reports_are_logged_not_raised(caplog: pytest.LogCaptureFixture):
    tally = Tally()
    batches = ReportBatches(lambda: None, linger=3600)
    batches.hold(FEED_HEALTH.name, 0, b"k", b"v", [], tally)
    with caplog.at_level(logging.ERROR, logger="shared.report_batches"):
        await batches.flush()
    assert tally.counted == 0
    assert f"could not publish 1 reports to {FEED_HEALTH.name}: the producer is not running" in caplog.text
    await batches.flush()  # nothing held any more: nothing logged twice
    assert caplog.text.count("could not publish") == 1


async def test_a_backlog_beyond_its_bound_is_dropped_and_said(caplog: pytest.LogCaptureFixture):
    tally = Tally()
    batches = ReportBatches(lambda: None, linger=3600, max_held=1000, max_backlog=5)
    for n in range(8):
        batches.hold(FEED_HEALTH.name, 0, b"k", str(n).encode(), [], tally)
    with caplog.at_level(logging.ERROR, logger="shared.report_batches"):
        await batches.flush()
    assert f"dropped 3 reports to {FEED_HEALTH.name}: over 5 were waiting" in caplog.text
    assert f"could not publish 5 reports to {FEED_HEALTH.name}" in caplog.text
