"""Channels: where posts go, one account each, behind one small interface (`base.Channel`).

`base` (interface, `OutgoingPost`, `PostResult`, `RateLimit`, `ChannelLimits`, typed errors),
one module per service: `x` (tweepy AsyncClient, OAuth 1.0a), `mastodon`, `bluesky` (atproto),
`facebook` (Graph API page feed), `webhook`, and `outbox` (the dry run). Which accounts exist and
with which credentials is `services.publisher.accounts`' business.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.publisher.channels.base import (
    BLUESKY_LIMITS,
    FACEBOOK_LIMITS,
    MASTODON_LIMITS,
    WEBHOOK_LIMITS,
    X_LIMITS,
    Channel,
    ChannelLimits,
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    PostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
)
from services.publisher.channels.facebook import FacebookPageChannel
from services.publisher.channels.mastodon import MastodonChannel
from services.publisher.channels.outbox import OutboxChannel
from services.publisher.channels.webhook import WebhookChannel
from services.publisher.channels.x import XChannel

if TYPE_CHECKING:
    from services.publisher.channels.bluesky import BlueskyChannel


def __getattr__(name: str) -> Any:
    """`BlueskyChannel` on first use: the atproto SDK takes ~0.3 s and tens of MB to import, which
    every `herald` command and every publisher without a Bluesky account would otherwise pay."""
    if name == "BlueskyChannel":
        from services.publisher.channels.bluesky import BlueskyChannel

        return BlueskyChannel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BLUESKY_LIMITS",
    "FACEBOOK_LIMITS",
    "MASTODON_LIMITS",
    "WEBHOOK_LIMITS",
    "X_LIMITS",
    "BlueskyChannel",
    "Channel",
    "ChannelLimits",
    "DuplicatePostError",
    "FacebookPageChannel",
    "MastodonChannel",
    "OutboxChannel",
    "OutgoingPost",
    "PermanentPostError",
    "PostError",
    "PostResult",
    "RateLimit",
    "RetryGuard",
    "TransientPostError",
    "WebhookChannel",
    "XChannel",
]
