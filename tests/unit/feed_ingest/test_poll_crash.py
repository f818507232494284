"""A poll that raises (a Herald bug, never the feed's fault) still ends as a feed outcome: the
reporter records an `internal` failure, so feed health and ops hear of it and the feed backs off."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from services.feed_ingest.poller import Poller
from services.feed_ingest.schedule import SchedulePolicy
from services.feed_ingest.state import PollRequest, subscribe
from shared.events import FeedSubscribed

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class _Subscriptions:
    def __init__(self, state: Any) -> None:
        self._state = state

    def state(self, feed_id: str) -> Any:
        return self._state if feed_id == self._state.feed_id else None

    def latest(self, state: Any) -> Any:
        return state


class _BrokenFetcher:
    async def fetch(self, url: str, **validators: Any) -> Any:
        raise RuntimeError("a bug in Herald")


class _Reporter:
    def __init__(self) -> None:
        self.failures: list[tuple[str, str, str]] = []

    async def failed(self, state: Any, failure: Any, trigger: str, started: float) -> None:
        self.failures.append((failure.kind, failure.reason, trigger))


class _Runtime:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    async def report_error(self, kind: str, message: str) -> None:
        self.errors.append((kind, message))


async def test_a_crashing_poll_is_reported_as_an_internal_failure() -> None:
    event = FeedSubscribed(
        feed_id="f1", url="https://news.example/feed", interval_seconds=300, subscribed_at=NOW
    )
    state = subscribe(None, event, partition=0, now=NOW)
    reporter = _Reporter()
    poller = Poller(
        _Runtime(),  # type: ignore[arg-type]
        _Subscriptions(state),  # type: ignore[arg-type]
        _BrokenFetcher(),  # type: ignore[arg-type]
        SchedulePolicy(),
        random.Random(1),
        items=None,  # type: ignore[arg-type]
        reporter=reporter,  # type: ignore[arg-type]
        hubs=None,
        poll_counts=Counter(),
    )
    await poller.run_poll(PollRequest(feed_id="f1", requested_at=NOW))
    assert reporter.failures == [
        (
            "internal",
            "Herald could not complete this poll (RuntimeError); the worker's log says why",
            "first",
        )
    ]
    assert not poller.is_polling("f1")
