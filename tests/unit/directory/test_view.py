from services.directory.view import DirectoryView
from shared.events import StaffAccount

SUE = StaffAccount(staff_id="sue", name="Sue Tylcoat", handle="suety")
PIP = StaffAccount(staff_id="pip", name="pip Tucker", handle="piptucker", private=True)
ANNA = StaffAccount(staff_id="anna", name="Anna Matthews", handle="localgovgrad")


def test_lists_by_name_case_insensitively_and_hides_private_unless_asked() -> None:
    view = DirectoryView()
    for offset, account in enumerate((SUE, PIP, ANNA)):
        view.apply(account.staff_id, account, partition=0, offset=offset)
    assert [a.staff_id for a in view.accounts(include_private=False)] == ["anna", "sue"]
    assert [a.staff_id for a in view.accounts(include_private=True)] == ["anna", "pip", "sue"]


def test_an_older_record_does_not_overwrite_a_newer_one() -> None:
    view = DirectoryView()
    renamed = SUE.model_copy(update={"handle": "sue_t"})
    assert view.apply("sue", renamed, partition=1, offset=7)  # written by this worker, applied at once
    assert not view.apply("sue", SUE, partition=1, offset=3)  # the follower catching up later
    assert not view.apply("sue", renamed, partition=1, offset=7)
    assert view.get("sue") == renamed
    assert view.handle_owners == {("twitter", "sue_t"): "sue"}


def test_tombstone_removes_the_account_and_frees_its_handle() -> None:
    view = DirectoryView()
    view.apply("sue", SUE, partition=0, offset=0)
    view.apply("sue", None, partition=0, offset=1)
    assert view.get("sue") is None
    assert len(view) == 0
    assert dict(view.handle_owners) == {}


def test_handle_change_moves_ownership() -> None:
    view = DirectoryView()
    view.apply("sue", SUE, partition=0, offset=0)
    view.apply("sue", SUE.model_copy(update={"handle": "SUE_T"}), partition=0, offset=1)
    assert dict(view.handle_owners) == {("twitter", "sue_t"): "sue"}
