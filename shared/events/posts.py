"""Outcomes of posting an item to a social channel.

Published by: publisher to `herald.posts`, keyed by item id. Consumed by: notifier (alerts the
forum), ops dashboards, other teams who want to know what went out.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.envelope import EventPayload


class PostPublished(EventPayload):
    """An item went out on a channel (or, in dry-run mode, into the outbox; `dry_run` says which)."""

    event_type = "herald.post.published.v1"

    item_id: str = Field(description="The item that was posted.")
    channel: str = Field(description="Channel kind: `x`, `outbox`, …")
    account: str = Field(description="Which account of the channel (e.g. `corporate`).")
    post_id: str = Field(description="The channel's id of the post.")
    post_url: str | None = Field(default=None, description="Public URL of the post, if known.")
    text: str = Field(description="The exact text that was posted.")
    title: str = Field(default="", description="The item's title, for readers of the event.")
    link: str | None = Field(default=None, description="The item's link.")
    dry_run: bool = Field(description="True when no real channel was called (the dry-run outbox).")
    published_at: datetime = Field(description="When the channel accepted it, UTC.")

    def subject(self) -> str:
        return self.item_id


class PostFailed(EventPayload):
    """An item could not be posted to a channel; `retryable` says whether Herald will try again."""

    event_type = "herald.post.failed.v1"

    item_id: str = Field(description="The item that was not posted.")
    channel: str = Field(description="Channel kind: `x`, `outbox`, …")
    account: str = Field(description="Which account of the channel.")
    reason: str = Field(description="The channel's own reason, or Herald's, in one line.")
    error_code: str = Field(description="Short machine-readable code, e.g. `http_403`, `duplicate`, `auth`.")
    retryable: bool = Field(description="Whether Herald will try again by itself.")
    attempts: int = Field(ge=1, description="How many calls were made for this item and channel.")
    title: str = Field(default="", description="The item's title, for readers of the event.")
    link: str | None = Field(default=None, description="The item's link.")
    failed_at: datetime = Field(description="When it failed, UTC.")

    def subject(self) -> str:
        return self.item_id
