"""Feed subscriptions, and how each feed's polling goes.

`FeedSubscribed`/`FeedUnsubscribed` are published by the `herald feeds` CLI (and by feed_ingest
when a feed moved permanently) to `herald.feeds`, keyed by feed id; consumed by feed_ingest (keeps
its subscription table from them) and anyone listing feeds. That topic is compacted, so the
latest event per feed is the feed's current subscription.

`FeedPolled`, `FeedStatusChanged` and `FeedMoved` are published by feed_ingest to
`herald.ops.feed-health`, keyed by feed id; consumed by notifier (`FeedStatusChanged` and
`FeedMoved` only: broken and moved feeds), `herald feeds list` (status per feed) and ops dashboards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field, HttpUrl

from shared.envelope import EventPayload


class FeedSubscribed(EventPayload):
    """A feed is (re)subscribed; re-sending it with new settings updates the subscription."""

    event_type = "herald.feed.subscribed.v1"

    feed_id: str = Field(description="Stable id derived from the normalised feed URL.")
    url: HttpUrl = Field(description="The feed's URL (http or https).")
    interval_seconds: int = Field(ge=5, description="How often to poll the feed.")
    backfill: int = Field(
        default=0, ge=0, description="On the first poll, emit the latest N existing items (0: none)."
    )
    subscribed_at: datetime = Field(description="When the subscription was made, UTC.")
    paused: bool = Field(default=False, description="True while polling is paused (`herald feeds pause`).")

    def subject(self) -> str:
        return self.feed_id


class FeedUnsubscribed(EventPayload):
    """A feed is no longer watched; its items already emitted stay emitted."""

    event_type = "herald.feed.unsubscribed.v1"

    feed_id: str = Field(description="Id of the feed that was removed.")
    url: HttpUrl | None = Field(default=None, description="The feed's URL, for readers of the event.")
    unsubscribed_at: datetime = Field(description="When it was removed, UTC.")

    def subject(self) -> str:
        return self.feed_id


class FeedPolled(EventPayload):
    """The outcome of one poll (or push, or ping) of a feed."""

    event_type = "herald.feed.polled.v1"

    feed_id: str = Field(description="Which feed.")
    url: str = Field(description="The URL fetched (after redirects).")
    trigger: Literal["schedule", "ping", "push", "first"] = Field(description="What caused the poll.")
    outcome: Literal["ok", "not_modified", "error"] = Field(description="What happened.")
    http_status: int | None = Field(default=None, description="Final HTTP status, if a response came.")
    error_kind: str | None = Field(default=None, description="Short code: timeout, http_error, malformed…")
    error: str | None = Field(default=None, description="One line saying what went wrong.")
    warnings: list[str] = Field(
        default_factory=list, description="Parser complaints about a feed still read."
    )
    items_total: int = Field(default=0, ge=0, description="Items in the document.")
    items_new: int = Field(default=0, ge=0, description="FeedItemDiscovered events emitted.")
    items_updated: int = Field(default=0, ge=0, description="FeedItemUpdated events emitted.")
    duration_ms: float = Field(ge=0, description="Fetch + parse time.")
    polled_at: datetime = Field(description="When the poll ended, UTC.")
    next_poll_at: datetime | None = Field(default=None, description="When the next poll is due, UTC.")

    def subject(self) -> str:
        return self.feed_id


class FeedStatusChanged(EventPayload):
    """A feed became broken (failing for longer than allowed), or healthy again."""

    event_type = "herald.feed.status.changed.v1"

    feed_id: str = Field(description="Which feed.")
    url: str = Field(description="Its URL.")
    status: Literal["healthy", "broken"] = Field(description="The new status.")
    since: datetime = Field(description="When the feed entered this status (first failure for broken).")
    last_error: str | None = Field(default=None, description="The latest error, for broken.")
    changed_at: datetime = Field(description="When Herald decided, UTC.")

    def subject(self) -> str:
        return self.feed_id


class FeedMoved(EventPayload):
    """A feed answered with a permanent redirect; its subscription now uses the new URL."""

    event_type = "herald.feed.moved.v1"

    feed_id: str = Field(description="Which feed (the id stays the same).")
    old_url: str = Field(description="The URL subscribed before.")
    new_url: str = Field(description="Where the feed is now.")
    http_status: int = Field(description="301 or 308.")
    moved_at: datetime = Field(description="When Herald saw it, UTC.")

    def subject(self) -> str:
        return self.feed_id
