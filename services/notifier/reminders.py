"""Feed items routed to a target (`items:` in the targets file): the forum's own events feed
announced when found, or as a reminder `remind_before` the item's date. Pure: the clock and the
zone are passed in.

The date is the item's published time: an events feed dates each item with its event. An item
without one is announced at once; one whose date has passed is not announced (a reminder after the
meeting helps nobody); one found later than its reminder time is announced at once. Feed items are
public, so the words are the same for every target. The alert id derives from the item, not the
event, so a changed item (`FeedItemUpdated`) moves the reminder it already has instead of adding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.notifier.render import Alert
from services.notifier.templating import DEFAULT_TEMPLATES, Templates
from shared.envelope import CloudEvent
from shared.events.items import FeedItem

ITEM_KIND = "feed_item"
SUMMARY_MAX = 500


@dataclass(frozen=True)
class Planned:
    alert: Alert
    send_at: datetime


def alert_source(item_id: str) -> str:
    """What a routed item's alert id is derived from (with the target and the kind)."""
    return f"item:{item_id}"


def plan(
    envelope: CloudEvent,
    item: FeedItem,
    *,
    remind_before: timedelta | None,
    now: datetime,
    zone: ZoneInfo,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Planned | None:
    """The alert for a routed item and when to send it; None when its date has passed. Its facts
    are worded by the `feed_item` templates (the feed's title escaped in each target's markup)."""
    date = item.published
    if remind_before is not None and date is not None and date <= now:
        return None
    send_at = now if remind_before is None or date is None else max(now, date - remind_before)
    summary = " ".join((item.summary or "").split())
    facts = {
        "title": " ".join(item.title.split()) or item.item_id,
        "when": f"{date.astimezone(zone):%A %d %B %Y, %H:%M %Z}" if date is not None else None,
        "reminder": remind_before is not None,
        "summary": summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…",
        "link": item.link,
        "item_id": item.item_id,
    }
    alert = Alert(
        headline=templates.headline(ITEM_KIND, facts),
        kind=ITEM_KIND,
        facts=facts,
        event_type=envelope.type,
        event_id=envelope.id,
        feed_id=item.feed_id,
        occurred_at=envelope.time.isoformat(),
    )
    return Planned(alert, send_at)
