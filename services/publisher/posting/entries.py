"""What the posting workflow reads off a ledger entry: the item as an event, what the policy
judges, and the channel kind and account it names. Pure; no I/O."""

from __future__ import annotations

from services.publisher.channels import Channel
from services.publisher.ledger import LedgerEntry
from services.publisher.policy import Candidate
from services.publisher.routing import Item
from shared.events import FeedItemDiscovered, FeedItemUpdated


def item_from(entry: LedgerEntry) -> Item:
    """The item the entry was admitted for, as the event it came in (an update stays an update)."""
    data = entry.item or {}
    if entry.item_type == FeedItemUpdated.event_type:
        return FeedItemUpdated.model_validate(data)
    return FeedItemDiscovered.model_validate(data)


def candidate(entry: LedgerEntry) -> Candidate:
    """What the publishing policy looks at, from the entry alone (no channel, no clock)."""
    item = entry.item or {}
    return Candidate(
        target=entry.target,
        feed_id=item.get("feed_id", ""),
        feed_url=item.get("feed_url", ""),
        title=item.get("title", ""),
        summary=item.get("summary", ""),
        text=entry.text,
        has_link=bool(entry.link),
        approved=entry.approved,
    )


def kind_of(channel: Channel | None, entry: LedgerEntry) -> str:
    """The channel kind events name: the channel's own (an outbox says so), else the target's."""
    return channel.name if channel is not None else entry.target.partition(":")[0]


def account_of(channel: Channel | None, entry: LedgerEntry) -> str:
    return channel.account if channel is not None else entry.target.partition(":")[2]
