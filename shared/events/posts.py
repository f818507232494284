"""Outcomes of posting an item to a social channel, and the decisions of the publishing policy.

Published by: publisher to `herald.posts`, keyed by item id. Consumed by: notifier (alerts the
forum), `herald posts list` (held posts), ops dashboards, other teams who want to know what went out.
`PostDecisionRequested` is a command: published by `herald posts approve|drop` and the
publisher's admin HTTP API to `herald.publisher.commands` (keyed by item id); consumed by the
publisher only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

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
    retry_until: datetime | None = Field(
        default=None,
        description="Retryable: Herald tries again by itself until then (UTC), then holds the post for "
        "a person; a `herald.post.published.v1` follows if a try succeeds.",
    )

    def subject(self) -> str:
        return self.item_id


class PostHeld(EventPayload):
    """The policy held a post: it waits for a window to open or for a person to approve it."""

    event_type = "herald.post.held.v1"

    item_id: str = Field(description="The item held.")
    channel: str = Field(description="Channel kind: `x`, `mastodon`, …")
    account: str = Field(description="Which account of the channel.")
    rule: str = Field(
        description="The policy rule: quiet_hours, blackout, keyword, approval, cost_cap, unconfirmed."
    )
    reason: str = Field(description="One line for a person, e.g. `blocked word 'strike'`.")
    text: str = Field(description="The text that would be posted.")
    title: str = Field(default="", description="The item's title.")
    link: str | None = Field(default=None, description="The item's link.")
    release_at: datetime | None = Field(
        default=None,
        description="When it goes out by itself (quiet hours, blackout end); null: needs a person.",
    )
    held_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.item_id


class PostApproved(EventPayload):
    """A person approved a held post (possibly with edited text); it goes out now."""

    event_type = "herald.post.approved.v1"

    item_id: str = Field(description="The item approved.")
    channel: str = Field(description="Channel kind.")
    account: str = Field(description="Which account.")
    approved_by: str = Field(description="Who approved it.")
    text: str = Field(description="The text that will be posted (edited or as held).")
    edited: bool = Field(description="Whether the text was changed from the held one.")
    approved_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.item_id


class PostDropped(EventPayload):
    """A held post will not go out."""

    event_type = "herald.post.dropped.v1"

    item_id: str = Field(description="The item dropped.")
    channel: str = Field(description="Channel kind.")
    account: str = Field(description="Which account.")
    dropped_by: str = Field(description="Who dropped it.")
    reason: str = Field(default="", description="Why, if given.")
    dropped_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.item_id


class PostDecisionRequested(EventPayload):
    """Command: approve (optionally with new text) or drop a held post."""

    event_type = "herald.post.decision.requested.v1"

    request_id: str = Field(description="Unique id of the request.")
    item_id: str = Field(description="The held item.")
    channel: str = Field(description="Channel kind.")
    account: str = Field(description="Which account.")
    action: Literal["approve", "drop"] = Field(description="What to do.")
    text: str | None = Field(default=None, description="Replacement text on approve, if edited.")
    reason: str = Field(default="", description="Why, on drop.")
    requested_by: str = Field(description="Who asked.")

    def subject(self) -> str:
        return self.item_id
