from datetime import UTC, datetime

import pytest

from services.directory.decide import Decision, decide
from shared.events import (
    StaffAccount,
    StaffAccountAdded,
    StaffAccountChangeRejected,
    StaffAccountChangeRequested,
    StaffAccountRemoved,
    StaffAccountUpdated,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SUE = StaffAccount(
    staff_id="sue-tylcoat", name="Sue Tylcoat", role="Solutions Development Manager", handle="suety"
)
PIP = StaffAccount(staff_id="pip-tucker", name="Pip Tucker", handle="piptucker", private=True)


def command(action: str, staff_id: str = "sue-tylcoat", **fields: object) -> StaffAccountChangeRequested:
    return StaffAccountChangeRequested(request_id="r1", action=action, staff_id=staff_id, **fields)


def owners(*accounts: StaffAccount) -> dict[tuple[str, str], str]:
    return {(a.platform, a.handle.casefold()): a.staff_id for a in accounts}


def rejection(decision: Decision) -> str:
    assert isinstance(decision.event, StaffAccountChangeRejected), decision.event
    assert decision.event.request_id == "r1"
    assert not decision.changes_state
    return decision.event.reason


# --- add ---------------------------------------------------------------------------------------


def test_add_new_account_strips_the_at_and_defaults_the_rest() -> None:
    decision = decide(None, command("add", name="Sue Tylcoat", handle="@suety"), now=NOW)
    assert isinstance(decision.event, StaffAccountAdded)
    assert decision.changes_state
    expected = StaffAccount(staff_id="sue-tylcoat", name="Sue Tylcoat", handle="suety")
    assert decision.account == expected == decision.event.account
    assert decision.event.changed_at == NOW
    assert expected.platform == "twitter" and expected.role == "" and expected.private is False


def test_add_requires_a_name() -> None:
    decision = decide(None, command("add", handle="suety"), now=NOW)
    assert rejection(decision) == "name is required to add staff id 'sue-tylcoat'"
    assert decision.account is None


def test_add_refuses_a_blank_name() -> None:
    assert "name is required" in rejection(decide(None, command("add", name="  ", handle="suety"), now=NOW))


def test_add_requires_a_handle() -> None:
    reason = rejection(decide(None, command("add", name="Sue Tylcoat"), now=NOW))
    assert reason == "handle is required to add staff id 'sue-tylcoat'"


def test_add_refuses_an_invalid_x_handle_quoting_it() -> None:
    reason = rejection(decide(None, command("add", name="Sue", handle="@a b"), now=NOW))
    assert reason.startswith("invalid X handle '@a b': ")


def test_add_of_an_existing_id_with_identical_data_is_a_no_op() -> None:
    same = command("add", name="Sue Tylcoat", role="Solutions Development Manager", handle="@suety")
    decision = decide(SUE, same, now=NOW)
    assert decision == Decision(None, SUE)


def test_add_of_an_existing_id_with_different_data_is_refused() -> None:
    decision = decide(SUE, command("add", name="Sue Tylcoat", handle="sue_t"), now=NOW)
    assert rejection(decision) == "staff id 'sue-tylcoat' already exists; use update"
    assert decision.account == SUE


def test_add_refuses_a_handle_held_by_someone_else_whatever_its_case() -> None:
    decision = decide(
        None,
        command("add", staff_id="impostor", name="Im Postor", handle="SueTy"),
        now=NOW,
        handle_owners=owners(SUE),
    )
    assert rejection(decision) == "handle '@SueTy' on twitter is already held by staff id 'sue-tylcoat'"


def test_same_handle_on_another_platform_is_allowed() -> None:
    decision = decide(
        None,
        command("add", staff_id="other", name="Other", platform="mastodon", handle="suety"),
        now=NOW,
        handle_owners=owners(SUE),
    )
    assert isinstance(decision.event, StaffAccountAdded)


# --- update ------------------------------------------------------------------------------------


def test_update_of_an_unknown_id_is_refused() -> None:
    reason = rejection(decide(None, command("update", handle="suety"), now=NOW))
    assert reason == "unknown staff id 'sue-tylcoat': use add (or upsert) for a new account"


def test_update_changes_only_the_given_fields_and_lists_them() -> None:
    decision = decide(SUE, command("update", handle="@sue_t"), now=NOW, handle_owners=owners(SUE, PIP))
    assert isinstance(decision.event, StaffAccountUpdated)
    assert decision.event.previous == SUE
    assert decision.event.changed_fields == ["handle"]
    assert decision.account == SUE.model_copy(update={"handle": "sue_t"})


def test_update_of_the_case_of_ones_own_handle_is_allowed() -> None:
    decision = decide(SUE, command("update", handle="SueTy"), now=NOW, handle_owners=owners(SUE))
    assert isinstance(decision.event, StaffAccountUpdated)
    assert decision.event.changed_fields == ["handle"]


def test_update_to_the_same_data_says_nothing() -> None:
    assert decide(SUE, command("update", handle="@suety", name="Sue  Tylcoat"), now=NOW) == Decision(
        None, SUE
    )


def test_update_refuses_an_invalid_handle() -> None:
    decision = decide(SUE, command("update", handle="far_too_long_handle"), now=NOW)
    assert rejection(decision).startswith("invalid X handle 'far_too_long_handle': ")
    assert decision.account == SUE


def test_update_refuses_an_empty_name() -> None:
    assert rejection(decide(SUE, command("update", name=" "), now=NOW)) == (
        "name must not be empty (staff id 'sue-tylcoat')"
    )


def test_update_refuses_a_handle_held_by_someone_else() -> None:
    reason = rejection(
        decide(SUE, command("update", handle="PipTucker"), now=NOW, handle_owners=owners(SUE, PIP))
    )
    assert reason == "handle '@PipTucker' on twitter is already held by staff id 'pip-tucker'"


def test_changing_platform_rechecks_the_held_handle() -> None:
    on_mastodon = SUE.model_copy(update={"platform": "mastodon", "handle": "sue@social.example"})
    reason = rejection(decide(on_mastodon, command("update", platform="twitter"), now=NOW))
    assert reason.startswith("invalid X handle 'sue@social.example'")


def test_update_can_make_an_account_private() -> None:
    decision = decide(SUE, command("update", private=True), now=NOW)
    assert isinstance(decision.event, StaffAccountUpdated)
    assert decision.event.changed_fields == ["private"]
    assert decision.account is not None and decision.account.private


# --- remove ------------------------------------------------------------------------------------


def test_remove_of_an_unknown_id_is_refused() -> None:
    assert (
        rejection(decide(None, command("remove"), now=NOW))
        == "unknown staff id 'sue-tylcoat': nothing to remove"
    )


def test_remove_emits_the_account_as_it_was_and_leaves_nothing() -> None:
    decision = decide(SUE, command("remove"), now=NOW)
    assert isinstance(decision.event, StaffAccountRemoved)
    assert decision.event.account == SUE
    assert decision.account is None
    assert decision.changes_state


# --- upsert ------------------------------------------------------------------------------------


def test_upsert_adds_an_unknown_account() -> None:
    decision = decide(
        None,
        command("upsert", name="Pip Tucker", staff_id="pip-tucker", handle="piptucker", private=True),
        now=NOW,
    )
    assert isinstance(decision.event, StaffAccountAdded)
    assert decision.account == PIP


def test_upsert_of_an_unknown_account_needs_a_name() -> None:
    assert rejection(decide(None, command("upsert", handle="suety"), now=NOW)) == (
        "name is required to upsert staff id 'sue-tylcoat'"
    )


def test_upsert_updates_what_differs() -> None:
    decision = decide(
        SUE, command("upsert", name="Sue Tylcoat", role="Head of Digital", handle="suety"), now=NOW
    )
    assert isinstance(decision.event, StaffAccountUpdated)
    assert decision.event.changed_fields == ["role"]


def test_importing_the_same_record_twice_changes_nothing() -> None:
    record = command("upsert", name="Sue Tylcoat", role="Solutions Development Manager", handle="suety")
    first = decide(None, record, now=NOW)
    assert isinstance(first.event, StaffAccountAdded)
    second = decide(first.account, record, now=NOW, handle_owners=owners(first.account))
    assert second == Decision(None, first.account)


@pytest.mark.parametrize("action", ["add", "update", "upsert"])
def test_every_action_rejects_bad_handles_without_touching_the_account(action: str) -> None:
    decision = decide(SUE, command(action, name="Sue Tylcoat", handle="bad handle"), now=NOW)
    assert rejection(decision).startswith("invalid X handle 'bad handle'")
    assert decision.account == SUE
