"""Feed state transitions: subscriptions, outcomes, backoff. Plain data only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.feed_ingest.state import (
    MAX_BACKOFF_SECONDS,
    FeedState,
    PollRequest,
    after_error,
    after_not_modified,
    after_success,
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
    assert (
        state.consecutive_failures == 0 and state.last_error is None and state.last_outcome == "not_modified"
    )
    assert state.next_poll_at == NOW.timestamp() + 300


def test_state_round_trips_through_the_table_encoding():
    state = subscribe(None, subscribed(), partition=3, now=NOW)
    assert FeedState.model_validate(state.to_table()) == state
    request = PollRequest(feed_id=state.feed_id, generation=4, requested_at=NOW)
    assert PollRequest.model_validate_json(request.model_dump_json()) == request
