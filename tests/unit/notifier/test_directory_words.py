"""Directory alerts, worded from the facts the directory really publishes (its own `decide`) and
the records a `StaffView` holds: what internal and outside targets read, and what nobody reads."""

import asyncio
from datetime import UTC, datetime

from services.directory.decide import decide
from services.notifier.render import Alert, render
from services.notifier.staff import StaffView
from services.notifier.templating import DEFAULT_TEMPLATES, TEXT
from shared.envelope import EventPayload, wrap
from shared.events import StaffAccountChangeRejected, StaffChanged, StaffCommand, StaffErased, StaffMember
from shared.events.directory import AccountSpec


def text(alert: Alert) -> str:
    """The alert's body as the plain-text format words it."""
    return DEFAULT_TEMPLATES.body(TEXT, alert.kind, alert.facts)


NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EMAIL = "pip.tucker@staff.devon.example"


class Directory:
    """The directory's decisions, and a notifier view fed with the snapshot records they write."""

    def __init__(self) -> None:
        caught_up = asyncio.Event()
        caught_up.set()
        self.view = StaffView(caught_up)
        self.members: dict[str, StaffMember] = {}
        self.offset = 0

    def run(self, action: str, staff_id: str, *, record: bool = True, **fields: object) -> EventPayload:
        command = StaffCommand(request_id=f"r-{self.offset}", action=action, staff_id=staff_id, **fields)  # type: ignore[arg-type]
        decision = decide(self.members.get(staff_id), command, now=NOW, handle_owners={})
        assert decision.event is not None
        if decision.changes_state:
            if decision.member is None:
                self.members.pop(staff_id, None)
            else:
                self.members[staff_id] = decision.member
            if record:
                self.snapshot(staff_id)
        return decision.event

    def snapshot(self, staff_id: str) -> None:
        self.offset += 1
        self.view.apply(staff_id, self.members.get(staff_id), partition=0, offset=self.offset)

    def alerts(self, event: EventPayload) -> tuple[Alert, Alert]:
        known = None
        if isinstance(event, StaffChanged):
            known = self.view.known(event.staff_id, event.version)
        envelope = wrap(event, source="/herald/test", time=NOW)
        inside, outside = (render(envelope, event, internal=i, known=known) for i in (True, False))
        assert "\n" not in inside.headline + outside.headline
        return inside, outside


def pip_joins(directory: Directory, **extra: object) -> EventPayload:
    return directory.run(
        "add_staff",
        "pip",
        name="Pip Tucker",
        role="Head of Strategic Intelligence",
        email=EMAIL,
        accounts=(AccountSpec(platform="x", handle="piptucker", visibility="private"),),
        **extra,
    )


def test_a_public_account_joins_with_its_handle_for_everyone() -> None:
    directory = Directory()
    event = directory.run(
        "add_staff",
        "sue",
        name="Sue Tylcoat",
        role="Solutions Development Manager",
        email="sue.tylcoat@staff.devon.example",
        accounts=(AccountSpec(platform="x", handle="@suety"),),
    )
    inside, outside = directory.alerts(event)
    welcome = "Welcome: Sue Tylcoat (Solutions Development Manager) joined the directory with X @suety"
    assert inside.headline == outside.headline == welcome
    assert "E-mail: sue.tylcoat@staff.devon.example" in text(inside)
    assert "staff.devon.example" not in text(outside) + outside.headline


def test_a_private_account_joins_with_its_handle_only_for_internal_targets() -> None:
    directory = Directory()
    inside, outside = directory.alerts(pip_joins(directory))
    assert inside.headline.endswith("joined the directory with X @piptucker (private)")
    assert outside.headline == (
        "Welcome: Pip Tucker (Head of Strategic Intelligence) joined the directory with a private X account"
    )
    assert EMAIL in text(inside)
    assert "piptucker" not in outside.headline + text(outside) and "@staff" not in text(outside)


def test_a_handle_change_says_was_and_now_privately() -> None:
    directory = Directory()
    pip_joins(directory)
    [account] = directory.members["pip"].accounts
    event = directory.run("change_handle", "pip", account_id=account.account_id, handle="pip_t")
    inside, outside = directory.alerts(event)
    assert (
        inside.headline == "Directory: Pip Tucker's X handle changed @piptucker (private) → @pip_t (private)"
    )
    assert outside.headline == "Directory: Pip Tucker's private X account has a new handle"
    assert "pip_t" not in text(outside) and "piptucker" not in text(outside)


def test_added_and_removed_accounts_and_leaving() -> None:
    directory = Directory()
    pip_joins(directory)
    added = directory.run("add_account", "pip", platform="mastodon", handle="@pip@social.example")
    assert directory.alerts(added)[1].headline == "Directory: Pip Tucker added Mastodon @pip@social.example"
    [x, _] = directory.members["pip"].accounts
    removed = directory.run("remove_account", "pip", account_id=x.account_id)
    inside, outside = directory.alerts(removed)
    assert inside.headline == "Directory: Pip Tucker's X account @piptucker (private) removed"
    assert outside.headline == "Directory: Pip Tucker's private X account removed"
    assert directory.alerts(directory.run("leave", "pip"))[0].headline == "Directory: Pip Tucker left"


def test_without_the_record_the_alert_is_worded_from_the_facts_and_names_nobody() -> None:
    directory = Directory()
    event = pip_joins(directory, record=False)  # the snapshot record has not arrived
    for alert in directory.alerts(event):
        assert alert.headline == "Directory: staff id pip: add staff (X)"
        assert "Pip" not in text(alert) and "piptucker" not in text(alert) and "@" not in text(alert)


def test_after_an_erase_no_alert_names_the_person() -> None:
    directory = Directory()
    joined = pip_joins(directory)
    erased = directory.run("erase", "pip")
    assert isinstance(erased, StaffErased)
    for alert in (*directory.alerts(erased), *directory.alerts(joined)):  # the erase, then a replay
        assert "Pip" not in alert.headline + text(alert) and "piptucker" not in text(alert)
    assert directory.alerts(erased)[0].headline == "Directory: staff id pip erased"


def test_an_old_fact_is_not_worded_from_a_newer_record() -> None:
    directory = Directory()
    joined = pip_joins(directory)
    directory.run("update_staff", "pip", name="Philippa Tucker")
    assert directory.alerts(joined)[0].headline == "Directory: staff id pip: add staff (X)"


def test_a_refusal_names_the_field() -> None:
    refusal = StaffAccountChangeRejected(
        request_id="r", staff_id="bob", action="add_account", field="handle", reason="bad", rejected_at=NOW
    )
    inside, _ = Directory().alerts(refusal)
    assert inside.headline == "Directory change REJECTED (add_account bob): bad" and "Field: handle" in text(
        inside
    )
    assert inside.severity == "warning"


async def test_a_fact_waits_for_its_record_until_a_deadline() -> None:
    directory = Directory()
    event = pip_joins(directory, record=False)
    assert isinstance(event, StaffChanged)
    waiting = asyncio.ensure_future(directory.view.known_at("pip", event.version, timeout=30))
    await asyncio.sleep(0)
    assert not waiting.done()
    directory.snapshot("pip")
    known = await asyncio.wait_for(waiting, timeout=5)
    assert known is not None and known.member.name == "Pip Tucker"
    assert await directory.view.known_at("nobody", 1, timeout=0.05) is None  # gave up at the deadline
    directory.run("erase", "pip")
    assert await directory.view.known_at("pip", 1, timeout=30) is None  # erased: no wait at all


def test_a_check_that_finds_what_the_last_one_did_is_routine_a_changed_outcome_is_not() -> None:
    from datetime import timedelta

    from services.notifier.directory_words import is_routine

    directory = Directory()
    sue_x = AccountSpec(platform="x", handle="suety")
    added = directory.run("add_staff", "s-1", name="Sue", accounts=(sue_x,))
    assert isinstance(added, StaffChanged) and not is_routine(added)
    account_id = added.after.accounts[0].account_id

    def check(outcome: str, hours_ago: int) -> StaffChanged:
        at = NOW - timedelta(hours=hours_ago)
        event = directory.run(
            "record_check", "s-1", account_id=account_id, check_outcome=outcome, checked_at=at
        )
        assert isinstance(event, StaffChanged)
        return event

    assert is_routine(check("exists", 4))  # never checked → well
    assert is_routine(check("exists", 3))
    assert not is_routine(check("missing", 2))
    assert not is_routine(check("exists", 1))  # back again: worth saying


def test_the_forum_members_are_the_active_members_with_an_address_once_caught_up() -> None:
    caught_up = asyncio.Event()
    view = StaffView(caught_up)
    people = [
        ("s1", "sue@staff.example", True, "active"),
        ("s2", "pip@staff.example", True, "active"),
        ("s3", "left@staff.example", True, "left"),
        ("s4", "not@staff.example", False, "active"),
        ("s5", None, True, "active"),
    ]
    for n, (staff_id, email, member, status) in enumerate(people):
        record = StaffMember(
            staff_id=staff_id, version=1, name=staff_id, email=email, forum_member=member, status=status
        )
        view.apply(staff_id, record, partition=0, offset=n)
    assert view.forum_members() == []  # the snapshot not read yet: not a short list
    caught_up.set()
    assert view.forum_members() == ["pip@staff.example", "sue@staff.example"]
    view.apply("s2", None, partition=0, offset=9)  # erased
    assert view.forum_members() == ["sue@staff.example"]
