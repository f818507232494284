"""Which channel accounts an item goes to.

Walking skeleton: every feed goes to one account, `corporate`, on the one configured channel.
Issue 4 replaces this with per-feed routes (channels, accounts, templates); the publisher already
loops over routes, so that change stays here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import FeedItemDiscovered

DEFAULT_ACCOUNT = "corporate"


@dataclass(frozen=True)
class Route:
    """Post this item on `channel` (a channel kind) as `account`."""

    channel: str
    account: str


def routes_for(item: FeedItemDiscovered, channel: str, account: str = DEFAULT_ACCOUNT) -> list[Route]:
    """Every feed → the one channel account (skeleton scope)."""
    return [Route(channel=channel, account=account)]
