"""One example alert of every kind (and its sparse form), to render every template at start-up:
a target's template that names a fact no alert has, or fails in one format, is found before the
first real alert would be lost to it. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.notifier import digest, reminders
from services.notifier.render import render
from shared.envelope import EventPayload, wrap
from shared.events import (
    FeedItemDiscovered,
    FeedMoved,
    FeedStatusChanged,
    PostApproved,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
    StaffAccountChangeRejected,
    StaffErased,
)

AT = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
_POST = {"item_id": "item-1", "channel": "x", "account": "corporate"}
_ITEM = {"title": "Road closures", "link": "https://council.example/news/1"}


def _payloads() -> list[EventPayload]:
    return [
        PostPublished(
            **_POST,
            **_ITEM,
            post_id="1",
            post_url="https://x.example/1",
            text="Roads",
            dry_run=False,
            published_at=AT,
        ),
        PostPublished(**_POST, post_id="1", text="Roads", dry_run=True, published_at=AT),
        PostFailed(
            **_POST,
            **_ITEM,
            reason="refused",
            error_code="http_403",
            retryable=False,
            attempts=1,
            failed_at=AT,
        ),
        PostFailed(
            **_POST,
            reason="busy",
            error_code="http_503",
            retryable=True,
            attempts=2,
            failed_at=AT,
            retry_until=AT + timedelta(days=1),
        ),
        PostHeld(**_POST, **_ITEM, rule="quiet", reason="night", text="Roads", release_at=AT, held_at=AT),
        PostHeld(**_POST, rule="keyword", reason="blocked word", text="Roads", held_at=AT),
        PostApproved(**_POST, approved_by="ops", text="Roads", edited=True, approved_at=AT),
        PostDropped(**_POST, dropped_by="ops", reason="", dropped_at=AT),
        FeedStatusChanged(
            feed_id="f",
            url="https://council.example/feed",
            status="broken",
            since=AT,
            last_error="HTTP 500",
            changed_at=AT,
        ),
        FeedStatusChanged(
            feed_id="f", url="https://council.example/feed", status="healthy", since=AT, changed_at=AT
        ),
        FeedMoved(
            feed_id="f",
            old_url="https://a.example/feed",
            new_url="https://b.example/feed",
            http_status=301,
            moved_at=AT,
        ),
        StaffErased(request_id="r", staff_id="s", version=2, requested_by="ops", erased_at=AT),
        StaffAccountChangeRejected(
            request_id="r", staff_id="s", action="add_account", field="handle", reason="bad", rejected_at=AT
        ),
    ]


def examples() -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind, facts) for every kind the notifier renders; the directory's kinds share one shape."""
    for payload in _payloads():
        alert = render(wrap(payload, source="/herald/notifier/examples", time=AT), payload, internal=True)
        yield alert.kind, alert.facts
        if alert.kind == "staff_erased":
            yield "staff_changed", alert.facts
    yield "plain", {"headline": "An alert", "text": "Its words as stored."}
    yield from _scheduled()


def _scheduled() -> Iterator[tuple[str, dict[str, Any]]]:
    """A digest with every section, and a routed feed item as a reminder and undated."""
    zone = ZoneInfo("Europe/London")
    notes = [
        digest.DigestNote(
            target="forum",
            event_id=f"e-{section}",
            event_type="herald.post.published.v1",
            occurred_at=AT,
            section=section,
            line=f"An alert ({section})",
            channel="x" if section == "published" else None,
            link="https://x.example/1" if section == "published" else None,
        )
        for section in digest.SECTION_TITLES
    ]
    built = digest.build("forum", notes, window_start=AT - timedelta(days=1), window_end=AT, zone=zone)
    yield built.kind, built.facts
    for published, summary in ((AT + timedelta(days=2), "At the civic centre."), (None, "")):
        item = FeedItemDiscovered(
            item_id="meet-1",
            feed_id="forum-events",
            feed_url="https://council.example/forum/events.rss",
            content_hash="h",
            discovered_at=AT,
            title="Forum meeting",
            link="https://council.example/forum/1" if summary else None,
            summary=summary,
            published=published,
        )
        planned = reminders.plan(
            wrap(item, source="/herald/notifier/examples", time=AT),
            item,
            remind_before=timedelta(days=1),
            now=AT,
            zone=zone,
        )
        assert planned is not None
        yield planned.alert.kind, planned.alert.facts
