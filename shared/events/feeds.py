"""Feed subscriptions.

Published by: the `herald feeds` CLI (and later an admin API) to `herald.feeds`, keyed by feed id.
Consumed by: feed_ingest (keeps its subscription table from them); anyone listing feeds.
The topic is compacted, so the latest event per feed is the feed's current subscription.
"""

from __future__ import annotations

from datetime import datetime

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
