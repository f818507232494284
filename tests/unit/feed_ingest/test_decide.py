"""The pure decide step: what to announce, given the seen window and a fetch."""

from __future__ import annotations

from services.feed_ingest.decide import SEEN_WINDOW, decide, remember
from tests.unit.feed_ingest.helpers import day, entry


def test_first_poll_announces_nothing_and_remembers_everything():
    entries = [entry("a", position=0), entry("b", position=1)]
    decision = decide([], entries, baseline_done=False)
    assert decision.emit == ()
    assert set(decision.seen) == {"a", "b"}


def test_backfill_announces_the_latest_n_oldest_first():
    entries = [entry("old", published=day(1)), entry("new", published=day(3)), entry("mid", published=day(2))]
    decision = decide([], entries, baseline_done=False, backfill=2)
    assert [e.item_id for e in decision.emit] == ["mid", "new"]
    assert set(decision.seen) == {"old", "mid", "new"}


def test_backfill_without_dates_uses_feed_order():
    entries = [entry("top", position=0), entry("second", position=1), entry("third", position=2)]
    decision = decide([], entries, baseline_done=False, backfill=2)
    assert [e.item_id for e in decision.emit] == ["second", "top"]


def test_a_new_item_is_announced_once():
    first = decide([], [entry("a")], baseline_done=False)
    second = decide(first.seen, [entry("b", position=0), entry("a", position=1)], baseline_done=True)
    assert [e.item_id for e in second.emit] == ["b"]
    third = decide(second.seen, [entry("b", position=0), entry("a", position=1)], baseline_done=True)
    assert third.emit == ()


def test_new_items_come_out_oldest_first():
    decision = decide(
        ["a"], [entry("c", position=0), entry("b", position=1), entry("a", position=2)], baseline_done=True
    )
    assert [e.item_id for e in decision.emit] == ["b", "c"]


def test_an_edited_item_without_guid_is_not_new():
    # Its id comes from its link, so a new title or summary does not make a new item.
    seen = decide([], [entry("link-id", title="Bins collected Tuesday")], baseline_done=False).seen
    again = decide(seen, [entry("link-id", title="Bins collected Wednesday")], baseline_done=True)
    assert again.emit == ()


def test_a_guid_that_changes_every_poll_is_caught_by_its_link_alias():
    seen = decide([], [entry("guid-1", aliases=("link-x",))], baseline_done=False).seen
    again = decide(seen, [entry("guid-2", aliases=("link-x",))], baseline_done=True)
    assert again.emit == ()
    assert "guid-2" in again.seen


def test_repeats_within_one_fetch_count_once():
    decision = decide(["a"], [entry("b", position=0), entry("b", position=1), entry("a")], baseline_done=True)
    assert [e.item_id for e in decision.emit] == ["b"]


def test_items_that_leave_the_feed_stay_seen_within_the_window():
    seen = decide([], [entry("a"), entry("b")], baseline_done=False).seen
    seen = decide(seen, [entry("b")], baseline_done=True).seen  # "a" dropped off the feed
    assert decide(seen, [entry("a"), entry("b")], baseline_done=True).emit == ()


def test_seen_window_is_bounded_but_keeps_everything_in_the_feed():
    old = [f"old-{n}" for n in range(SEEN_WINDOW + 200)]
    current = [entry(f"cur-{n}", position=n) for n in range(10)]
    seen = remember(old, current)
    assert len(seen) == SEEN_WINDOW
    assert seen[:10] == [f"cur-{n}" for n in range(10)]
    assert seen[10] == "old-0"  # most recent older ones are kept
    huge = [entry(f"big-{n}", position=n) for n in range(SEEN_WINDOW + 50)]
    assert len(remember(old, huge)) == SEEN_WINDOW + 50  # never forget what the feed still lists


def test_remember_can_leave_unpublished_items_unseen():
    entries = [entry("a"), entry("b", aliases=("link-b",))]
    seen = remember([], entries, forget=[entries[1]])
    assert seen == ["a"]
    assert [e.item_id for e in decide(seen, entries, baseline_done=True).emit] == ["b"]
