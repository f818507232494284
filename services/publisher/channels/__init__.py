"""Channels: where posts go, one account each, behind one small interface (`base.Channel`).

`base` (interface, `OutgoingPost`, `PostResult`, `RateLimit`, `ChannelLimits`, typed errors),
one module per service: `x` (tweepy AsyncClient, OAuth 1.0a), `mastodon`, `bluesky` (atproto),
`facebook` (Graph API page feed), `webhook`, and `outbox` (the dry run). Which accounts exist and
with which credentials is `services.publisher.accounts`' business; `build_channel` here is the
walking skeleton's single account (X from HERALD_X_*, else the outbox).
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
    Counting,
    DuplicateError,
    DuplicatePostError,
    OutgoingPost,
    PermanentError,
    PermanentPostError,
    PostError,
    PostResult,
    RateLimit,
    TransientError,
    TransientPostError,
)
from services.publisher.channels.facebook import FacebookPageChannel
from services.publisher.channels.mastodon import MastodonChannel
from services.publisher.channels.outbox import OutboxChannel
from services.publisher.channels.webhook import WebhookChannel
from services.publisher.channels.x import X_API_HOST, X_DEFAULT_BASE_URL, XChannel, x_session
from shared.settings import HeraldSettings

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
    "X_API_HOST",
    "X_DEFAULT_BASE_URL",
    "X_LIMITS",
    "BlueskyChannel",
    "Channel",
    "ChannelLimits",
    "Counting",
    "DuplicateError",
    "DuplicatePostError",
    "FacebookPageChannel",
    "MastodonChannel",
    "OutboxChannel",
    "OutgoingPost",
    "PermanentError",
    "PermanentPostError",
    "PostError",
    "PostResult",
    "RateLimit",
    "TransientError",
    "TransientPostError",
    "WebhookChannel",
    "XChannel",
    "build_channel",
    "x_session",
]


def build_channel(settings: HeraldSettings, *, account: str) -> Channel:
    """X when its credentials are set, else the dry-run outbox (the caller says so loudly)."""
    if settings.publisher.x_credentials_set:
        return XChannel(settings, account=account)
    return OutboxChannel(settings.outbox_dir, account=account, limits=X_LIMITS)
