import asyncio
from datetime import UTC, datetime

from services.directory.view import DirectoryView, public_record
from shared.events import StaffMember
from shared.events.directory import SocialAccount

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def account(handle: str, **fields: object) -> SocialAccount:
    values = {
        "account_id": "acc-" + handle,
        "platform": "x",
        "handle": handle,
        "url": "https://x.com/" + handle,
    }
    values |= {"status": "active", "added_at": NOW, "changed_at": NOW, **fields}
    return SocialAccount(**values)  # type: ignore[arg-type]


def member(staff_id: str, name: str, *accounts: SocialAccount, **fields: object) -> StaffMember:
    return StaffMember(staff_id=staff_id, version=1, name=name, accounts=accounts, **fields)  # type: ignore[arg-type]


SUE = member("sue", "Sue Tylcoat", account("suety"), email="sue@staff.devon.example")
PIP = member("pip", "pip Tucker", account("piptucker", visibility="private"))
ANNA = member("anna", "Anna Matthews", account("localgovgrad"), account("anna_hidden", visibility="private"))


def test_public_records_hide_e_mails_private_and_unshown_accounts() -> None:
    view = DirectoryView()
    for offset, person in enumerate((SUE, PIP, ANNA)):
        view.apply(person.staff_id, person, partition=0, offset=offset)
    public = view.public()
    assert [p["staff_id"] for p in public] == ["anna", "sue"]
    assert [a["handle"] for a in public[0]["accounts"]] == ["localgovgrad"]
    assert "email" not in public[1] and "sue@" not in str(public)
    assert [m.staff_id for m in view.members()] == ["anna", "pip", "sue"]


def test_people_with_nothing_shown_are_not_public() -> None:
    under_review = member("r", "R", account("r", status="under_review"))
    left = member("l", "L", account("l"), status="left")
    assert public_record(under_review) is None and public_record(left) is None


def test_an_older_record_does_not_overwrite_a_newer_one() -> None:
    view = DirectoryView()
    renamed = SUE.model_copy(update={"accounts": (account("sue_t"),), "version": 2})
    assert view.apply("sue", renamed, partition=1, offset=7)  # written by this worker, applied at once
    assert not view.apply("sue", SUE, partition=1, offset=3)  # the follower catching up later
    assert view.get("sue") == renamed
    assert dict(view.handle_owners) == {("x", "sue_t"): "sue"}


def test_tombstone_erases_the_person_and_frees_their_handles() -> None:
    view = DirectoryView()
    view.apply("anna", ANNA, partition=0, offset=0)
    assert len(view.handle_owners) == 2
    view.apply("anna", None, partition=0, offset=1)
    assert view.get("anna") is None and len(view) == 0 and dict(view.handle_owners) == {}


async def test_a_read_can_wait_for_a_version_or_an_erasure() -> None:
    view = DirectoryView()
    view.apply("sue", SUE, partition=0, offset=0)
    assert view.has_reached("sue", 1) and not view.has_reached("sue", 2) and not view.has_reached("pip", 1)
    waiting = asyncio.ensure_future(view.reached("sue", 2, timeout=5))
    await asyncio.sleep(0)
    assert not waiting.done()
    view.apply("pip", PIP, partition=0, offset=1)  # another person's change: still waiting
    await asyncio.sleep(0)
    assert not waiting.done()
    view.apply("sue", SUE.model_copy(update={"version": 2}), partition=0, offset=2)
    assert await waiting
    view.apply("pip", None, partition=0, offset=3)  # erased: a wait for them ends too
    assert await view.reached("pip", 7, timeout=5)
    assert not await view.reached("anna", 1, timeout=0.05)  # never written: the wait gives up
