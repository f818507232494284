"""The event each recorded ledger state calls for (`outcomes.event_for`, pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.publisher.channels import OutboxChannel
from services.publisher.ledger import LedgerEntry, LedgerState
from services.publisher.posting.outcomes import event_for
from shared.events import PostDropped, PostFailed, PostHeld, PostPublished

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
KEY = "item-1|mastodon:council"
ITEM = {"title": "Library hours", "link": "https://www.example.gov.uk/libraries"}


def entry(state: LedgerState, **fields: object) -> LedgerEntry:
    return LedgerEntry(
        state=state,
        text="Library hours https://www.example.gov.uk/libraries",
        target="mastodon:council",
        item=ITEM,
        updated_at="2026-03-02T09:00:00+00:00",
        **fields,  # type: ignore[arg-type]
    )


def test_posted_is_published_with_the_post_and_the_item() -> None:
    event = event_for(KEY, entry(LedgerState.POSTED, post_id="9", post_url="https://m/9"), None, NOW)
    assert isinstance(event, PostPublished)
    assert (event.item_id, event.channel, event.account) == ("item-1", "mastodon", "council")
    assert (event.post_id, event.post_url, event.title, event.link) == (
        "9",
        "https://m/9",
        "Library hours",
        ITEM["link"],
    )
    assert event.published_at == NOW


def test_held_names_the_rule_and_the_release_and_the_target_kind(tmp_path: Path) -> None:
    held = entry(LedgerState.HELD, rule="quiet_hours", reason="quiet", release_at="2026-03-02T10:00:00+00:00")
    event = event_for(KEY, held, OutboxChannel(tmp_path, account="council", stands_in_for="mastodon"), NOW)
    assert isinstance(event, PostHeld)
    assert event.channel == "mastodon"  # the account's kind, not "outbox"
    assert event.rule == "quiet_hours" and event.release_at == datetime(2026, 3, 2, 10, tzinfo=UTC)


def test_dropped_keeps_who_and_when() -> None:
    event = event_for(KEY, entry(LedgerState.DROPPED, dropped_by="ops", reason="stale"), None, NOW)
    assert isinstance(event, PostDropped)
    assert (event.dropped_by, event.reason) == ("ops", "stale")
    assert event.dropped_at == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_failed_and_a_posted_entry_without_a_post_id_are_failures() -> None:
    failed = entry(LedgerState.FAILED, error_code="http_500", reason="down", retryable=True, attempts=4)
    event = event_for(KEY, failed, None, NOW)
    assert isinstance(event, PostFailed)
    assert (event.error_code, event.reason, event.retryable, event.attempts) == ("http_500", "down", True, 4)
    assert isinstance(event_for(KEY, entry(LedgerState.POSTED), None, NOW), PostFailed)
