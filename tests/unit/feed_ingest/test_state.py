"""Feed state transitions: subscriptions, outcomes, backoff. Plain data only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.feed_ingest.schedule import SchedulePolicy
from services.feed_ingest.state import (
    MAX_BACKOFF_SECONDS,
    REFRESH_ALL,
    FeedState,
    PollRequest,
    after_error,
    after_not_modified,
    after_success,
    moved,
    only_timing_changed,
    status_change,
    subscribe,
    unsubscribe,
)
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.ids import feed_id_for

NOW = datetime(2025, 6, 14, 9, 0, tzinfo=UTC)
URL = "https://www.lowshire.gov.uk/news.rss"


def subscribed(interval: int = 300, backfill: int = 0) -> FeedSubscribed:
    return FeedSubscribed(
        feed_id=feed_id_for(URL), url=URL, interval_seconds=interval, backfill=backfill, subscribed_at=NOW
    )


def test_a_new_subscription_is_due_at_once_for_its_baseline():
    state = subscribe(None, subscribed(backfill=3), partition=2, now=NOW)
    assert state.partition == 2 and state.backfill == 3
    assert state.next_poll_at == NOW.timestamp()
    assert not state.baseline_done and state.seen == []


def test_resubscribing_keeps_seen_ids_and_validators():
    state = subscribe(None, subscribed(), partition=1, now=NOW)
    state = after_success(
        state, seen=["a", "b"], emitted=0, http_status=200, etag='"e1"', last_modified="lm", now=NOW
    )
    again = subscribe(
        state, subscribed(interval=60, backfill=5), partition=1, now=NOW + timedelta(seconds=10)
    )
    assert again.seen == ["a", "b"] and again.etag == '"e1"' and again.baseline_done
    assert again.backfill == 0  # backfill only means something before the first poll
    assert again.interval_seconds == 60
    assert again.next_poll_at == NOW.timestamp() + 60  # the shorter interval applies now


def test_unsubscribing_keeps_seen_ids_so_resubscribing_repeats_nothing():
    state = after_success(
        subscribe(None, subscribed(), partition=0, now=NOW),
        seen=["a"],
        emitted=0,
        http_status=200,
        etag=None,
        last_modified=None,
        now=NOW,
    )
    gone = unsubscribe(state, FeedUnsubscribed(feed_id=state.feed_id, unsubscribed_at=NOW))
    assert gone is not None and not gone.active and gone.seen == ["a"]
    back = subscribe(gone, subscribed(), partition=0, now=NOW + timedelta(hours=1))
    assert back.active and back.seen == ["a"] and back.baseline_done
    assert unsubscribe(None, FeedUnsubscribed(feed_id="feed-x", unsubscribed_at=NOW)) is None


def test_errors_back_off_exponentially_and_success_resets():
    state = subscribe(None, subscribed(interval=300), partition=0, now=NOW)
    delays = []
    for _ in range(12):
        state = after_error(state, kind="http_error", reason="HTTP 500", http_status=500, now=NOW)
        delays.append(state.next_poll_at - NOW.timestamp())
    assert delays[:4] == [300, 600, 1200, 2400]
    assert max(delays) == MAX_BACKOFF_SECONDS
    assert (
        state.consecutive_failures == 12 and state.last_error == "HTTP 500" and state.last_outcome == "error"
    )
    assert state.generation == 12
    state = after_not_modified(state, http_status=304, etag=None, last_modified=None, now=NOW)
    assert state.consecutive_failures == 0 and state.last_outcome == "not_modified"
    assert state.status == "ok" and state.failing_since is None
    assert state.last_error == "HTTP 500"  # kept: `herald feeds list` shows the last error
    assert state.next_poll_at == NOW.timestamp() + 300 * 1.25  # quiet: polled a little less often


def test_state_round_trips_through_the_table_encoding():
    state = subscribe(None, subscribed(), partition=3, now=NOW)
    assert FeedState.model_validate(state.to_table()) == state
    request = PollRequest(feed_id=state.feed_id, generation=4, requested_at=NOW)
    assert PollRequest.model_validate_json(request.model_dump_json()) == request


def test_a_refresh_request_names_every_feed_and_only_a_refresh_does():
    """`herald feeds poll --all` sends one "refresh" per partition; its feed id is REFRESH_ALL,
    which no other request may carry (nor may a refresh name one feed)."""
    request = PollRequest.refresh(NOW)
    assert request.feed_id == REFRESH_ALL == "*" and request.reason == "refresh"
    assert request.requested_at == NOW and request.generation is None
    assert PollRequest.model_validate_json(request.model_dump_json()) == request
    with pytest.raises(ValidationError, match="reason 'refresh'"):
        PollRequest(feed_id=feed_id_for(URL), reason="refresh", requested_at=NOW)
    for reason in ("schedule", "ping", "push", "lease"):
        with pytest.raises(ValidationError, match="reason 'refresh'"):
            PollRequest(feed_id=REFRESH_ALL, reason=reason, requested_at=NOW)
    with pytest.raises(ValidationError):  # the default reason is "schedule"
        PollRequest(feed_id=REFRESH_ALL, requested_at=NOW)
    # Read off the topic as the poll agent reads it: a ping for "*" is refused there too.
    forged = request.model_dump_json().replace('"refresh"', '"ping"')
    with pytest.raises(ValidationError):
        PollRequest.model_validate_json(forged)


def test_a_feed_failing_longer_than_allowed_turns_broken_and_recovers():
    policy = SchedulePolicy(broken_after=3600)
    state = subscribe(None, subscribed(interval=300), partition=0, now=NOW)
    first = after_error(state, kind="timeout", reason="slow", http_status=None, now=NOW, policy=policy)
    assert first.failing_since == NOW and not first.broken and status_change(state, first) is None
    later = after_error(
        first, kind="timeout", reason="slow", http_status=None, now=NOW + timedelta(hours=1), policy=policy
    )
    assert later.broken and later.status == "broken" and status_change(first, later) == "broken"
    again = after_error(
        later, kind="timeout", reason="slow", http_status=None, now=NOW + timedelta(hours=2), policy=policy
    )
    assert status_change(later, again) is None  # announced once
    healed = after_not_modified(
        again, http_status=304, etag=None, last_modified=None, now=NOW + timedelta(hours=3), policy=policy
    )
    assert not healed.broken and status_change(again, healed) == "healthy"


def test_retry_after_and_max_age_are_honoured():
    state = subscribe(None, subscribed(interval=300), partition=0, now=NOW)
    limited = after_error(
        state, kind="http_error", reason="HTTP 429", http_status=429, now=NOW, retry_after=3000
    )
    assert limited.next_poll_at == NOW.timestamp() + 3000
    cached = after_not_modified(state, http_status=304, etag=None, last_modified=None, now=NOW, max_age=900)
    assert cached.next_poll_at == NOW.timestamp() + 900
    capped = after_not_modified(state, http_status=304, etag=None, last_modified=None, now=NOW, max_age=10**7)
    assert capped.next_poll_at == NOW.timestamp() + 1200  # never beyond the adaptive maximum


def test_changes_poll_sooner_and_quiet_polls_later_within_bounds():
    policy = SchedulePolicy(min_interval=60, max_interval=3600)
    state = subscribe(None, subscribed(interval=300), partition=0, now=NOW)
    for _ in range(10):
        state = after_success(
            state, seen=[], emitted=1, http_status=200, etag=None, last_modified=None, now=NOW, policy=policy
        )
    assert state.effective_interval == 75  # 300 / 4 (the span), above the 60 s minimum
    for _ in range(30):
        state = after_not_modified(
            state, http_status=304, etag=None, last_modified=None, now=NOW, policy=policy
        )
    assert state.effective_interval == 1200  # 300 × 4, below the 3600 s maximum


def test_pause_stops_scheduling_and_resume_polls_at_once():
    state = after_success(
        subscribe(None, subscribed(), partition=0, now=NOW),
        seen=["a"],
        emitted=0,
        http_status=200,
        etag='"e"',
        last_modified=None,
        now=NOW,
    )
    paused = subscribe(state, subscribed().model_copy(update={"paused": True}), partition=0, now=NOW)
    assert paused.status == "paused" and not paused.schedulable and paused.seen == ["a"]
    later = NOW + timedelta(minutes=1)
    resumed = subscribe(paused, subscribed(), partition=0, now=later)
    assert resumed.schedulable and resumed.next_poll_at == later.timestamp() and resumed.etag == '"e"'


def test_a_move_keeps_the_seen_state_and_drops_the_old_validators():
    state = after_success(
        subscribe(None, subscribed(), partition=0, now=NOW),
        seen=["a"],
        emitted=0,
        http_status=200,
        etag='"e"',
        last_modified=None,
        now=NOW,
    )
    new_url = "https://news.lowshire.gov.uk/feed.rss"
    assert moved(state, new_url).url == new_url
    again = subscribe(state, subscribed().model_copy(update={"url": new_url}), partition=0, now=NOW)
    assert again.url == new_url and again.seen == ["a"] and again.etag is None


def test_only_a_routine_304_counts_as_timing_only():
    """A 304 after a healthy poll may wait in memory for the changelog; anything a restart would
    need (new validators, the seen window, recovery from errors, a subscription change) may not."""
    state = subscribe(None, subscribed(), partition=0, now=NOW)
    fetched = after_success(
        state, seen=["a"], emitted=0, http_status=200, etag='"e1"', last_modified=None, now=NOW
    )
    later = NOW + timedelta(minutes=5)

    def not_modified(before: FeedState, etag: str | None = '"e1"') -> FeedState:
        return after_not_modified(before, http_status=304, etag=etag, last_modified=None, now=later)

    first_304 = not_modified(fetched)
    assert only_timing_changed(fetched, first_304)
    assert only_timing_changed(first_304, not_modified(first_304))
    assert first_304.next_poll_at > fetched.next_poll_at  # what it changes: timing

    assert not only_timing_changed(fetched, not_modified(fetched, etag='"e2"'))  # new validator
    failed = after_error(fetched, kind="http", reason="HTTP 503", http_status=503, now=NOW)
    assert not only_timing_changed(failed, not_modified(failed))  # recovery: health changed
    assert not only_timing_changed(state, not_modified(state))  # no baseline yet
    again = after_success(
        first_304, seen=["b", "a"], emitted=1, http_status=200, etag='"e1"', last_modified=None, now=later
    )
    assert not only_timing_changed(first_304, again)  # a 200 with new items
    paused = first_304.model_copy(update={"paused": True})
    assert not only_timing_changed(first_304, not_modified(paused))
