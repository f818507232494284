"""Per-feed health for `herald feeds list`: the subscriptions (herald.feeds) joined with the
latest outcomes on herald.ops.feed-health. Pure: the CLI reads the topics, this folds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.envelope import EventPayload
from shared.events import FeedPolled, FeedStatusChanged, FeedSubscribed


@dataclass
class FeedHealth:
    feed: FeedSubscribed
    status: str = "new"  # ok / error / broken / paused / new (never polled yet)
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_poll: datetime | None = None
    items_seen: int = 0  # items in the feed at its last successful poll
    items_new: int = 0  # FeedItemDiscovered announced, over the health topic's retention


def fold(subscriptions: dict[str, FeedSubscribed], events: list[EventPayload]) -> list[FeedHealth]:
    """Fold health events (in topic order, per feed) onto the subscriptions."""
    rows = {feed_id: FeedHealth(feed) for feed_id, feed in subscriptions.items()}
    broken: dict[str, bool] = {}
    for event in events:
        row = rows.get(getattr(event, "feed_id", ""))
        if row is None:
            continue
        if isinstance(event, FeedPolled):
            row.next_poll = event.next_poll_at
            row.items_new += event.items_new
            if event.outcome == "error":
                row.last_error, row.last_error_at = event.error, event.polled_at
                row.status = "error"
            else:
                row.last_success = event.polled_at
                row.status = "ok"
                if event.outcome == "ok":
                    row.items_seen = event.items_total
        elif isinstance(event, FeedStatusChanged):
            broken[row.feed.feed_id] = event.status == "broken"
    for feed_id, row in rows.items():
        if row.feed.paused:
            row.status = "paused"
        elif broken.get(feed_id) and row.status == "error":
            row.status = "broken"
    return sorted(rows.values(), key=lambda r: str(r.feed.url))
