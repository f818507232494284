"""The claim book: the earliest claim of a handle still standing holds it, a release passes it to
the next, and a compacted log (one record per key, order kept) gives every worker the same holders
as the log it was compacted from."""

import random
from datetime import UTC, datetime

from services.directory.claims import ClaimBook
from shared.events import HandleClaimed, StaffMember
from shared.events.directory import SocialAccount, claim_key

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
Record = tuple[str, HandleClaimed | None]


def claim(handle: str, staff_id: str) -> Record:
    payload = HandleClaimed(staff_id=staff_id, platform="x", handle=handle, request_id="r", claimed_at=NOW)
    return payload.subject(), payload


def release(handle: str, staff_id: str) -> Record:
    return claim_key("x", handle, staff_id), None


def book_of(records: list[tuple[int, Record]]) -> ClaimBook:
    book = ClaimBook()
    for offset, (key, payload) in records:
        book.apply(key, payload, partition=0, offset=offset)
    return book


def test_the_earliest_standing_claim_holds_and_a_release_passes_it_on() -> None:
    log = [claim("roads", "ann"), claim("roads", "bob"), claim("ROADS".casefold(), "cy")]
    book = book_of(list(enumerate(log)))
    assert book.holder(("x", "roads")) == "ann" and book.holders == {("x", "roads"): "ann"}
    assert book.claimed_by("bob") == {("x", "roads")}  # standing, not holding
    book.apply(*release("roads", "ann"), partition=0, offset=3)
    assert book.holder(("x", "roads")) == "bob"
    book.apply(*release("roads", "bob"), partition=0, offset=4)
    book.apply(*release("roads", "cy"), partition=0, offset=5)
    assert book.holder(("x", "roads")) is None and book.staff_ids() == set()


def test_a_record_read_again_changes_nothing() -> None:
    book = book_of([(0, claim("roads", "ann")), (1, release("roads", "ann"))])
    assert not book.apply(*claim("roads", "ann"), partition=0, offset=0)  # a follower restarting
    assert book.holder(("x", "roads")) is None


def test_a_handle_in_url_form_with_a_bar_keeps_its_key_apart_from_the_staff_id() -> None:
    book = book_of([(0, claim("https://facebook.com/a|b", "ann"))])
    assert book.holder(("x", "https://facebook.com/a|b")) == "ann"


def test_what_a_record_misses_and_what_is_stale() -> None:
    member = StaffMember(
        staff_id="ann",
        version=1,
        name="Ann",
        accounts=(
            SocialAccount(
                account_id="a1",
                platform="x",
                handle="Roads",
                url="https://x.com/Roads",
                added_at=NOW,
                changed_at=NOW,
            ),
            SocialAccount(
                account_id="a2",
                platform="x",
                handle="parks",
                url="https://x.com/parks",
                added_at=NOW,
                changed_at=NOW,
            ),
        ),
    )
    book = book_of([(0, claim("roads", "ann")), (1, claim("bins", "ann"))])
    assert book.missing(member) == {("x", "parks")}
    assert book.stale("ann", member) == {("x", "bins")}
    assert book.stale("ann", None) == {("x", "roads"), ("x", "bins")}  # erased: release everything


def compacted(records: list[tuple[int, Record]], *, drop_tombstones: bool) -> list[tuple[int, Record]]:
    """What log compaction leaves: each key's latest record, in the order of the log."""
    latest = {key: (offset, (key, payload)) for offset, (key, payload) in records}
    kept = sorted(latest.values())
    return [(o, r) for o, r in kept if not (drop_tombstones and r[1] is None)]


def test_a_compacted_log_gives_the_holders_of_the_whole_log() -> None:
    """Random claims and releases as the deciders write them (never a claim by someone who has a
    claim record standing), compacted with and without the tombstones: the same holders."""
    rng = random.Random(20261204)
    for _ in range(300):
        records: list[tuple[int, Record]] = []
        standing: set[tuple[str, str]] = set()
        for offset in range(rng.randint(1, 40)):
            handle, staff_id = rng.choice(["roads", "parks", "bins"]), rng.choice(["ann", "bob", "cy", "di"])
            if (handle, staff_id) in standing:
                records.append((offset, release(handle, staff_id)))
                standing.discard((handle, staff_id))
            else:
                records.append((offset, claim(handle, staff_id)))
                standing.add((handle, staff_id))
        whole = book_of(records)
        for drop in (False, True):
            assert book_of(compacted(records, drop_tombstones=drop)).holders == whole.holders, records
