"""What feed_ingest remembers per feed (its faust table value) and how each outcome changes it.

Pure: every function takes the old state and returns a new one; the agent does the I/O and the
table write. The state is bounded per feed (the seen window, see `decide.SEEN_WINDOW`), so a
worker's memory grows with the feeds it owns, not with the items ever seen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import FeedSubscribed, FeedUnsubscribed

#: Backoff after consecutive errors: interval × 2^(failures-1), at most this (or the interval).
MAX_BACKOFF_SECONDS = 6 * 60 * 60

PollOutcome = Literal["ok", "not_modified", "error"]


class FeedState(BaseModel):
    """One subscribed feed: its subscription, where its polling stands, and the ids it has seen."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed_id: str
    url: str
    interval_seconds: int
    backfill: int = Field(default=0, description="Latest N items to emit on the first poll.")
    partition: int = Field(description="Partition of herald.feeds holding it (poll requests go there).")
    active: bool = Field(default=True, description="False once unsubscribed; seen ids are kept.")
    subscribed_at: datetime
    baseline_done: bool = Field(default=False, description="A first successful poll has happened.")
    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = Field(default_factory=list, description="Identity keys seen, newest first, bounded.")
    generation: int = Field(default=0, description="Polls completed; a request for another one is stale.")
    next_poll_at: float = Field(default=0.0, description="Unix time the next poll is due.")
    consecutive_failures: int = 0
    last_outcome: PollOutcome | None = None
    last_http_status: int | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    items_emitted: int = 0

    def to_table(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PollRequest(BaseModel):
    """Internal (herald.internal.feed-polls, keyed by feed id): "poll this feed now".

    Not a public event, so no CloudEvents envelope: JSON of this model. `generation` is the
    state's at request time; if a poll completed since, the request is stale and ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed_id: str
    generation: int = Field(ge=0)
    reason: Literal["schedule", "ping"] = "schedule"
    requested_at: datetime


def subscribe(
    existing: FeedState | None, event: FeedSubscribed, *, partition: int, now: datetime
) -> FeedState:
    """A (re)subscription. An existing feed keeps its seen ids and validators (no re-emission);
    a new one is due at once, for its baseline poll."""
    url = str(event.url)
    if existing is None:
        return FeedState(
            feed_id=event.feed_id,
            url=url,
            interval_seconds=event.interval_seconds,
            backfill=event.backfill,
            partition=partition,
            subscribed_at=event.subscribed_at,
            next_poll_at=now.timestamp(),
        )
    changes: dict[str, Any] = {
        "url": url,
        "interval_seconds": event.interval_seconds,
        "partition": partition,
        "active": True,
        "subscribed_at": event.subscribed_at,
    }
    if not existing.baseline_done:
        changes["backfill"] = event.backfill
    if not existing.active:
        changes["next_poll_at"] = now.timestamp()
    else:  # a shorter interval takes effect now, not after the old, longer wait
        changes["next_poll_at"] = min(
            existing.next_poll_at, _last_poll_ts(existing, now) + event.interval_seconds
        )
    return existing.model_copy(update=changes)


def unsubscribe(existing: FeedState | None, event: FeedUnsubscribed) -> FeedState | None:
    """Stop polling, but keep the seen ids: a later re-subscription must not repeat old items."""
    if existing is None:
        return None
    return existing.model_copy(update={"active": False})


def after_success(
    state: FeedState,
    *,
    seen: list[str],
    emitted: int,
    http_status: int,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
) -> FeedState:
    return state.model_copy(
        update={
            "baseline_done": True,
            "seen": seen,
            "etag": etag,
            "last_modified": last_modified,
            "items_emitted": state.items_emitted + emitted,
            **_polled(state, "ok", http_status, now),
            "last_success_at": now,
            "next_poll_at": now.timestamp() + state.interval_seconds,
        }
    )


def after_not_modified(
    state: FeedState, *, http_status: int, etag: str | None, last_modified: str | None, now: datetime
) -> FeedState:
    return state.model_copy(
        update={
            "etag": etag or state.etag,
            "last_modified": last_modified or state.last_modified,
            **_polled(state, "not_modified", http_status, now),
            "last_success_at": now,
            "next_poll_at": now.timestamp() + state.interval_seconds,
        }
    )


def after_error(
    state: FeedState,
    *,
    kind: str,
    reason: str,
    http_status: int | None,
    now: datetime,
    seen: list[str] | None = None,
) -> FeedState:
    """An error: recorded, and the feed retried later with exponential backoff.

    `seen` is given when some items were published before the error (they stay seen)."""
    failures = state.consecutive_failures + 1
    delay = min(
        state.interval_seconds * 2 ** min(failures - 1, 16), max(MAX_BACKOFF_SECONDS, state.interval_seconds)
    )
    update: dict[str, Any] = {
        **_polled(state, "error", http_status, now),
        "consecutive_failures": failures,
        "last_error_kind": kind,
        "last_error": reason,
        "next_poll_at": now.timestamp() + delay,
    }
    if seen is not None:
        update["seen"] = seen
    return state.model_copy(update=update)


def _polled(state: FeedState, outcome: PollOutcome, http_status: int | None, now: datetime) -> dict[str, Any]:
    update: dict[str, Any] = {
        "generation": state.generation + 1,
        "last_outcome": outcome,
        "last_http_status": http_status,
        "last_polled_at": now,
    }
    if outcome != "error":
        update.update(consecutive_failures=0, last_error_kind=None, last_error=None)
    return update


def _last_poll_ts(state: FeedState, now: datetime) -> float:
    return state.last_polled_at.timestamp() if state.last_polled_at else now.timestamp()


def utcnow() -> datetime:
    return datetime.now(UTC)
