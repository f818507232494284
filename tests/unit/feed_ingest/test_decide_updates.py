"""Changed items: FeedItemUpdated decisions and the bounded fingerprint state. Plain data only."""

from __future__ import annotations

from dataclasses import replace

from services.feed_ingest.decide import SEEN_WINDOW, decide
from services.feed_ingest.identity import content_hash
from tests.unit.feed_ingest.helpers import entry


def edited(e, **changes):
    new = replace(e, **changes)
    return replace(new, content_hash=content_hash(new.title, new.link, new.summary))


def test_an_announced_item_that_changes_is_an_update_not_a_discovery():
    base = decide([], [entry("a")], baseline_done=False)
    announced = decide(
        base.seen, [entry("b"), entry("a")], baseline_done=True, fingerprints=base.fingerprints
    )
    assert [e.item_id for e in announced.emit] == ["b"]
    changed = edited(entry("b"), title="Bins collected Wednesday")
    again = decide(
        announced.seen, [changed, entry("a")], baseline_done=True, fingerprints=announced.fingerprints
    )
    assert again.emit == ()
    [update] = again.updates
    assert update.item_id == "b" and update.changed_fields == ("title",)
    assert update.previous_content_hash == entry("b").content_hash
    # once recorded, the same content is no update any more
    third = decide(again.seen, [changed, entry("a")], baseline_done=True, fingerprints=again.fingerprints)
    assert third.emit == () and third.updates == ()


def test_back_catalogue_items_change_silently():
    base = decide([], [entry("a")], baseline_done=False)
    again = decide(
        base.seen,
        [edited(entry("a"), summary="new text")],
        baseline_done=True,
        fingerprints=base.fingerprints,
    )
    assert again.emit == () and again.updates == ()


def test_an_update_of_an_item_whose_guid_changes_keeps_the_announced_id():
    base = decide([], [], baseline_done=False)
    first = decide(base.seen, [entry("guid-1", aliases=("link-x",))], baseline_done=True, fingerprints={})
    assert [e.item_id for e in first.emit] == ["guid-1"]
    moved = edited(entry("guid-2", aliases=("link-x",)), title="Corrected")
    again = decide(first.seen, [moved], baseline_done=True, fingerprints=first.fingerprints)
    assert again.emit == () and [u.item_id for u in again.updates] == ["guid-1"]


def test_fingerprints_stay_within_the_seen_window():
    seen = decide([], [entry(f"i{n}") for n in range(SEEN_WINDOW)], baseline_done=False)
    later = decide(
        seen.seen,
        [entry(f"j{n}") for n in range(SEEN_WINDOW)],
        baseline_done=True,
        fingerprints=seen.fingerprints,
    )
    assert len(later.seen) == SEEN_WINDOW
    assert set(later.fingerprints) <= set(later.seen) and len(later.fingerprints) == SEEN_WINDOW
