"""Rebuilding held/approved/dropped state from herald.posts events (what `herald posts list` shows)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.publisher.held import fold, held
from shared.events import PostApproved, PostDropped, PostHeld, PostPublished

T = datetime(2026, 1, 1, tzinfo=UTC)


def hold(item_id: str, rule: str = "keyword") -> PostHeld:
    return PostHeld(
        item_id=item_id, channel="x", account="corporate", rule=rule, reason="r", text="t", held_at=T
    )


def test_fold() -> None:
    events = [
        hold("a"),
        hold("b"),
        hold("c", "quiet_hours"),
        PostApproved(
            item_id="a",
            channel="x",
            account="corporate",
            approved_by="p",
            text="new",
            edited=True,
            approved_at=T,
        ),
        PostPublished(
            item_id="a",
            channel="outbox",
            account="corporate",
            post_id="1",
            text="new",
            dry_run=True,
            published_at=T,
        ),
        PostDropped(item_id="b", channel="x", account="corporate", dropped_by="p", dropped_at=T),
    ]
    states = fold(events)
    assert states[("a", "x", "corporate")].status == "published"
    assert states[("a", "x", "corporate")].text == "new"
    assert states[("b", "x", "corporate")].status == "dropped"
    assert [s.item_id for s in held(states)] == ["c"]
    assert held(states)[0].rule == "quiet_hours"
