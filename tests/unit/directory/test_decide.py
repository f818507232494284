"""Every directory command applied, and every refusal, decided with plain data."""

from datetime import UTC, datetime, timedelta

import pytest

from services.directory.decide import Decision, decide
from shared.events import StaffAccountChangeRejected, StaffChanged, StaffCommand, StaffErased, StaffMember
from shared.events.directory import AccountSpec

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
SUE_X = AccountSpec(platform="x", handle="@suety")
SUE_MASTODON = AccountSpec(platform="mastodon", handle="https://social.example/@sue", visibility="private")


def command(action: str, staff_id: str = "s-1", **fields: object) -> StaffCommand:
    return StaffCommand(request_id="r1", action=action, staff_id=staff_id, **fields)  # type: ignore[arg-type]


def sue(*accounts: AccountSpec) -> StaffMember:
    decision = decide(
        None,
        command(
            "add_staff",
            name="Sue  Tylcoat",
            role="Solutions Development Manager",
            email="Sue.Tylcoat@staff.devon.example",
            accounts=accounts or (SUE_X, SUE_MASTODON),
        ),
        now=NOW,
    )
    assert decision.member is not None
    return decision.member


def applied(decision: Decision) -> StaffChanged:
    assert isinstance(decision.event, StaffChanged), decision.event
    assert decision.changes_state and decision.member is not None
    assert decision.event.version == decision.member.version
    return decision.event


def refusal(decision: Decision) -> tuple[str | None, str]:
    assert isinstance(decision.event, StaffAccountChangeRejected), decision.event
    assert not decision.changes_state and decision.event.request_id == "r1"
    return decision.event.field, decision.event.reason


def only_account(member: StaffMember, platform: str = "x") -> str:
    return next(a.account_id for a in member.accounts if a.platform == platform)


# --- applied ------------------------------------------------------------------------------------


def test_add_staff_with_two_accounts_on_two_platforms() -> None:
    decision = decide(
        None,
        command("add_staff", name="Sue  Tylcoat", email="Sue@X.example", accounts=(SUE_X, SUE_MASTODON)),
        now=NOW,
    )
    event = applied(decision)
    member = decision.member
    assert member is not None and member.version == 1 and member.name == "Sue Tylcoat"
    assert member.email == "sue@x.example"
    assert [(a.platform, a.handle, a.visibility, a.status) for a in member.accounts] == [
        ("x", "suety", "public", "under_review"),
        ("mastodon", "@sue@social.example", "private", "under_review"),
    ]
    assert len({a.account_id for a in member.accounts}) == 2
    assert event.before is None and event.after.version == 1 and event.action == "add_staff"
    assert event.changed == ["name", "email", *(f"accounts.{a.account_id}" for a in member.accounts)]


def test_events_carry_no_personal_value() -> None:
    member = sue()
    event = decide(
        member, command("change_handle", account_id=only_account(member), handle="sue_t"), now=NOW
    ).event
    assert event is not None
    text = event.model_dump_json()
    for personal in ("Sue", "suety", "sue_t", "social.example", "staff.devon.example", "Solutions"):
        assert personal not in text


def test_update_staff_sets_the_given_fields_and_bumps_the_version() -> None:
    event = applied(decide(sue(), command("update_staff", department="Digital", forum_member=True), now=NOW))
    assert event.version == 2 and event.before is not None and event.before.version == 1
    assert event.changed == ["department", "forum_member"]
    assert event.after.forum_member is True


def test_add_account() -> None:
    member = sue(SUE_X)
    decision = decide(
        member, command("add_account", platform="bluesky", handle="@Sue.bsky.social"), now=LATER
    )
    event = applied(decision)
    assert decision.member is not None
    new = decision.member.accounts[-1]
    assert (new.handle, new.url, new.added_at) == (
        "sue.bsky.social",
        "https://bsky.app/profile/sue.bsky.social",
        LATER,
    )
    assert event.changed == [f"accounts.{new.account_id}"]


def test_change_account_status_and_verified() -> None:
    member = sue()
    account_id = only_account(member)
    decision = decide(
        member, command("change_account", account_id=account_id, status="active", verified=True), now=LATER
    )
    event = applied(decision)
    assert event.changed == [f"accounts.{account_id}.status", f"accounts.{account_id}.verified"]
    assert decision.member is not None and decision.member.accounts[0].changed_at == LATER
    assert decision.member.accounts[1].changed_at == NOW


def test_remove_account() -> None:
    member = sue()
    account_id = only_account(member, "mastodon")
    decision = decide(member, command("remove_account", account_id=account_id), now=NOW)
    assert applied(decision).changed == [f"accounts.{account_id}"]
    assert decision.member is not None and [a.platform for a in decision.member.accounts] == ["x"]


def test_change_handle_keeps_the_account_id() -> None:
    member = sue()
    account_id = only_account(member)
    decision = decide(
        member, command("change_handle", account_id=account_id, handle="https://x.com/sue_t"), now=NOW
    )
    assert applied(decision).changed == [f"accounts.{account_id}.handle", f"accounts.{account_id}.url"]
    assert decision.member is not None and decision.member.accounts[0].account_id == account_id
    assert decision.member.accounts[0].handle == "sue_t"


def test_set_visibility() -> None:
    member = sue()
    account_id = only_account(member)
    decision = decide(member, command("set_visibility", account_id=account_id, visibility="private"), now=NOW)
    assert applied(decision).after.accounts[0].visibility == "private"


def test_deactivate_one_account_or_all() -> None:
    member = sue()
    one = decide(member, command("deactivate", account_id=only_account(member)), now=NOW).member
    assert one is not None and [a.status for a in one.accounts] == ["inactive", "under_review"]
    every = decide(member, command("deactivate"), now=NOW).member
    assert every is not None and {a.status for a in every.accounts} == {"inactive"}


def test_leave_marks_the_person_left_and_archives_every_account() -> None:
    event = applied(decide(sue(), command("leave"), now=NOW))
    assert event.after.status == "left" and {a.status for a in event.after.accounts} == {"archived"}


def test_erase_removes_the_record() -> None:
    decision = decide(sue(), command("erase", requested_by="cli:admin"), now=NOW)
    assert isinstance(decision.event, StaffErased) and decision.member is None and decision.changes_state
    assert decision.event.model_dump(mode="json") == {
        "request_id": "r1",
        "staff_id": "s-1",
        "version": 1,
        "requested_by": "cli:admin",
        "erased_at": "2026-03-01T09:00:00Z",
    }


def test_put_staff_adds_then_changes_nothing_when_repeated() -> None:
    put = command("put_staff", name="Sue Tylcoat", role="Solutions Development Manager", accounts=(SUE_X,))
    first = decide(None, put, now=NOW)
    applied(first)
    again = decide(first.member, put.model_copy(update={"request_id": "r2"}), now=LATER)
    assert again == Decision(None, first.member)


def test_put_staff_adds_missing_accounts_and_changes_listed_ones_only() -> None:
    member = sue()
    moved = AccountSpec(platform="x", handle="SUETY", visibility="private")
    decision = decide(
        member,
        command("put_staff", accounts=(moved, AccountSpec(platform="tiktok", handle="sue.t"))),
        now=NOW,
    )
    applied(decision)
    assert decision.member is not None
    assert [(a.platform, a.handle, a.visibility) for a in decision.member.accounts] == [
        ("x", "SUETY", "private"),
        ("mastodon", "@sue@social.example", "private"),
        ("tiktok", "sue.t", "public"),
    ]


def test_a_change_to_the_same_values_emits_nothing() -> None:
    member = sue()
    assert decide(member, command("update_staff", name="Sue Tylcoat"), now=NOW) == Decision(None, member)


# --- refused ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        "update_staff",
        "add_account",
        "change_account",
        "remove_account",
        "change_handle",
        "set_visibility",
        "deactivate",
        "leave",
        "erase",
    ],
)
def test_every_action_but_adding_needs_a_known_id(action: str) -> None:
    assert refusal(decide(None, command(action), now=NOW)) == ("staff_id", "unknown staff id 's-1'")


def test_add_staff_refuses_an_existing_id() -> None:
    assert refusal(decide(sue(), command("add_staff", name="Other"), now=NOW)) == (
        "staff_id",
        "staff id 's-1' already exists",
    )


@pytest.mark.parametrize("name", [None, "   "])
def test_a_new_person_needs_a_name(name: str | None) -> None:
    assert refusal(decide(None, command("add_staff", name=name), now=NOW))[0] == "name"


def test_a_name_cannot_be_emptied() -> None:
    assert refusal(decide(sue(), command("update_staff", name=" "), now=NOW)) == (
        "name",
        "the name must not be empty",
    )


def test_a_bad_e_mail_is_refused() -> None:
    assert refusal(decide(sue(), command("update_staff", email="not an address"), now=NOW))[0] == "email"


def test_stale_version_is_refused() -> None:
    member = sue()
    changed = decide(member, command("update_staff", role="Head", expected_version=1), now=NOW).member
    assert changed is not None and changed.version == 2
    assert refusal(decide(changed, command("update_staff", role="Other", expected_version=1), now=NOW)) == (
        "version",
        "stale: the record is at version 2, not 1",
    )


def test_a_handle_held_by_another_person_is_refused_whatever_its_spelling() -> None:
    owners = {("x", "suety"): "someone-else"}
    field, reason = refusal(
        decide(
            None,
            command(
                "add_staff",
                name="Im Postor",
                accounts=(AccountSpec(platform="x", handle="https://x.com/SueTy"),),
            ),
            now=NOW,
            handle_owners=owners,
        )
    )
    assert (field, reason) == ("handle", "that x account is already held by staff id 'someone-else'")


def test_the_same_person_keeps_their_own_handle() -> None:
    member = sue()
    owners = {("x", "suety"): "s-1"}
    applied(decide(member, command("update_staff", role="Head"), now=NOW, handle_owners=owners))


def test_an_account_listed_twice_is_refused() -> None:
    twice = (SUE_X, AccountSpec(platform="x", handle="https://x.com/suety"))
    member = sue()
    assert refusal(decide(member, command("add_account", platform="x", handle="SUETY"), now=NOW)) == (
        "handle",
        "this person already holds that account",
    )
    # A list naming one account in two spellings holds it once.
    listed = decide(None, command("add_staff", name="A", accounts=twice), now=NOW).member
    assert listed is not None and [a.handle for a in listed.accounts] == ["suety"]


def test_an_invalid_handle_is_refused_with_the_platform_rule() -> None:
    field, reason = refusal(decide(sue(), command("add_account", platform="mastodon", handle="sue"), now=NOW))
    assert (field, reason) == ("handle", "a Mastodon handle is @user@host (or https://host/@user)")


@pytest.mark.parametrize(
    ("action", "fields", "field"),
    [
        ("add_account", {"handle": "sue"}, "platform"),
        ("add_account", {"platform": "x"}, "handle"),
        ("change_account", {}, "account_id"),
        ("change_account", {"account_id": "acc-nope", "status": "active"}, "account_id"),
        ("change_handle", {"account_id": "ACCOUNT"}, "handle"),
        ("set_visibility", {"account_id": "ACCOUNT"}, "visibility"),
        ("remove_account", {}, "account_id"),
    ],
)
def test_account_commands_need_their_fields(action: str, fields: dict[str, str], field: str) -> None:
    member = sue()
    fields = {k: only_account(member) if v == "ACCOUNT" else v for k, v in fields.items()}
    assert refusal(decide(member, command(action, **fields), now=NOW))[0] == field


# --- record_check -------------------------------------------------------------------------------


def test_record_check_sets_the_result_on_that_account_only() -> None:
    member = sue()
    x_id = only_account(member)
    posted = NOW - timedelta(days=200)
    decision = decide(
        member,
        command(
            "record_check", account_id=x_id, check_outcome="inactive", checked_at=NOW, last_post_at=posted
        ),
        now=LATER,
    )
    event = applied(decision)
    assert decision.member is not None
    checked = next(a for a in decision.member.accounts if a.account_id == x_id)
    other = next(a for a in decision.member.accounts if a.account_id != x_id)
    assert (checked.last_checked_at, checked.check_outcome, checked.last_post_at) == (NOW, "inactive", posted)
    assert checked.changed_at == NOW  # a check is not an edit
    assert other.last_checked_at is None and other.check_outcome is None
    assert set(event.changed) == {
        f"accounts.{x_id}.last_checked_at",
        f"accounts.{x_id}.check_outcome",
        f"accounts.{x_id}.last_post_at",
    }
    assert next(a for a in event.after.accounts if a.account_id == x_id).check_outcome == "inactive"
    assert "suety" not in event.model_dump_json()  # the public event names no handle


def test_an_older_check_result_changes_nothing() -> None:
    member = sue()
    x_id = only_account(member)
    newer = decide(
        member, command("record_check", account_id=x_id, check_outcome="exists", checked_at=LATER), now=LATER
    ).member
    older = decide(
        newer, command("record_check", account_id=x_id, check_outcome="missing", checked_at=NOW), now=LATER
    )
    assert older.event is None and older.member == newer


def test_record_check_refusals() -> None:
    member = sue()
    x_id = only_account(member)
    assert refusal(decide(member, command("record_check", account_id=x_id), now=NOW))[0] == "check_outcome"
    assert (
        refusal(decide(member, command("record_check", check_outcome="exists"), now=NOW))[0] == "account_id"
    )
    future = command("record_check", account_id=x_id, check_outcome="exists", checked_at=LATER)
    assert refusal(decide(member, future, now=NOW))[0] == "checked_at"
    unknown = command("record_check", account_id="acc-nope", check_outcome="exists")
    assert refusal(decide(member, unknown, now=NOW))[0] == "account_id"
