"""The X List's pure parts: who is wanted, what to change, and the change budget's window."""

from datetime import UTC, datetime

from services.directory.checks.x_list import ChangeBudget, desired, plan
from shared.events import StaffMember
from shared.events.directory import SocialAccount

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def x(handle: str, **more: object) -> SocialAccount:
    fields = {"visibility": "public", "status": "active"} | more
    return SocialAccount(
        account_id=f"a-{handle}",
        platform="x",
        handle=handle,
        url=f"https://x.com/{handle}",
        added_at=NOW,
        changed_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_only_public_active_x_accounts_of_people_still_here_are_wanted() -> None:
    here = StaffMember(
        staff_id="s-1",
        version=1,
        name="A",
        accounts=(
            x("Public_One"),
            x("hidden", visibility="private"),
            x("reviewing", status="under_review"),
            x("quiet", status="inactive"),
            SocialAccount(
                account_id="m",
                platform="mastodon",
                handle="@a@b.example",
                url="https://b.example/@a",
                status="active",
                added_at=NOW,
                changed_at=NOW,
            ),
        ),
    )
    gone = StaffMember(staff_id="s-2", version=1, name="B", status="left", accounts=(x("leaver"),))
    assert desired([here, gone]) == {"public_one": "Public_One"}


def test_plan_removes_the_unwanted_and_adds_the_missing_case_blind() -> None:
    wanted = {"public_one": "Public_One", "two": "two"}
    todo = plan(wanted, {"1": "public_ONE", "9": "former"})
    assert todo.remove == (("9", "former"),) and todo.add == ("two",) and len(todo) == 2
    assert len(plan(wanted, {"1": "Public_One", "2": "two"})) == 0


def test_the_budget_is_a_sliding_window() -> None:
    budget = ChangeBudget(limit=2, window=900)
    assert budget.wait(0) == 0
    budget.spend(0)
    budget.spend(100)
    assert budget.wait(200) == 700  # the first change leaves the window at 900
    assert budget.wait(900) == 0
    budget.spend(900)
    assert budget.wait(950) == 50  # the second (at 100) leaves at 1000
