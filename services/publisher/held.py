"""What the policy's decisions add up to, rebuilt from `herald.posts` alone (for `herald posts list`).

Pure: `fold(events)` takes the POSTS events in order (per item, Kafka keeps that order) and gives
the latest state of each (item, channel, account): held, approved, dropped, published or failed.
Held posts name the route's channel kind (`x`), results the channel that acted (`outbox` for a
dry-run stand-in): an `outbox` result lands on the item's entry for the same account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from shared.envelope import EventPayload
from shared.events import PostApproved, PostDropped, PostFailed, PostHeld, PostPublished


@dataclass(frozen=True)
class PostState:
    item_id: str
    channel: str
    account: str
    status: str  # held | approved | dropped | published | failed
    rule: str | None = None
    reason: str = ""
    text: str = ""
    title: str = ""
    link: str | None = None
    release_at: str | None = None
    at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def fold(events: Iterable[EventPayload]) -> dict[tuple[str, str, str], PostState]:
    """(item id, channel, account) → latest state."""
    states: dict[tuple[str, str, str], PostState] = {}
    for event in events:
        item_id, account = getattr(event, "item_id", None), getattr(event, "account", None)
        channel = getattr(event, "channel", None)
        if item_id is None or account is None or channel is None:
            continue
        key = (item_id, channel, account)
        if channel == "outbox" and key not in states:
            key = next((k for k in states if k[0] == item_id and k[2] == account), key)
        before = states.get(key)
        if isinstance(event, PostHeld):
            states[key] = PostState(
                item_id,
                event.channel,
                account,
                "held",
                rule=event.rule,
                reason=event.reason,
                text=event.text,
                title=event.title,
                link=event.link,
                release_at=event.release_at.isoformat() if event.release_at else None,
                at=event.held_at.isoformat(),
            )
        elif isinstance(event, PostApproved):
            base = before or PostState(item_id, event.channel, account, "approved")
            states[key] = replace(base, status="approved", text=event.text, at=event.approved_at.isoformat())
        elif isinstance(event, PostDropped):
            base = before or PostState(item_id, event.channel, account, "dropped")
            states[key] = replace(
                base, status="dropped", reason=event.reason, at=event.dropped_at.isoformat()
            )
        elif isinstance(event, PostPublished):
            base = before or PostState(item_id, event.channel, account, "published")
            states[key] = replace(
                base,
                status="published",
                text=event.text,
                title=event.title,
                link=event.link,
                at=event.published_at.isoformat(),
            )
        elif isinstance(event, PostFailed):
            base = before or PostState(item_id, event.channel, account, "failed")
            states[key] = replace(
                base, status="failed", reason=event.reason, title=event.title, at=event.failed_at.isoformat()
            )
    return states


def held(states: dict[tuple[str, str, str], PostState]) -> list[PostState]:
    return sorted((state for state in states.values() if state.status == "held"), key=lambda s: s.at)
