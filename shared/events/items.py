"""Items found in feeds.

Published by: feed_ingest to `herald.feed-items`, keyed by item id (so all events of one item are
ordered). Consumed by: publisher (posts it), `herald preview ITEM_ID`, other teams' consumers, and
the notifier for the feeds a forum target asks for (`items:`: announcements, meeting reminders).
Otherwise the forum hears of an item through what the publisher did with it (`herald.posts`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.envelope import EventPayload


class FeedItem(EventPayload):
    """What Herald knows of one item as the feed gives it now (the fields both item events carry)."""

    item_id: str = Field(description="Stable id: from the guid when trustworthy, else the link, else a hash.")
    feed_id: str = Field(description="Id of the feed it was found in.")
    feed_url: str = Field(description="URL of the feed it was found in.")
    title: str = Field(description="Plain-text title (markup removed).")
    link: str | None = Field(default=None, description="Absolute URL of the item's page, if any.")
    summary: str = Field(default="", description="Plain-text summary (markup removed), possibly empty.")
    content_html: str = Field(
        default="",
        description="Sanitised HTML body (full content if the feed has it, else the summary); absolute URLs.",
    )
    author: str | None = Field(default=None, description="Author name, if the feed gives one.")
    tags: list[str] = Field(default_factory=list, description="Categories from the feed.")
    image_urls: list[str] = Field(default_factory=list, description="Absolute URLs of images of the item.")
    published: datetime | None = Field(default=None, description="Publication time in UTC, if given.")
    updated: datetime | None = Field(default=None, description="Last update time in UTC, if given.")
    content_hash: str = Field(description="Hash of title+link+summary; a change means the item was edited.")

    def subject(self) -> str:
        return self.item_id


class FeedItemDiscovered(FeedItem):
    """A feed item Herald has not seen before. Emitted once per item, whatever the polls and restarts."""

    event_type = "herald.feed.item.discovered.v1"

    discovered_at: datetime = Field(description="When Herald first saw it, UTC.")


class FeedItemUpdated(FeedItem):
    """An item Herald announced before changed (same id, new title, link or text). Never a second
    FeedItemDiscovered; the publisher posts it again only if a route asks for corrections."""

    event_type = "herald.feed.item.updated.v1"

    previous_content_hash: str = Field(description="The hash announced before.")
    changed_fields: list[str] = Field(description="Which of title, link, summary changed.")
    detected_at: datetime = Field(description="When Herald saw the change, UTC.")
