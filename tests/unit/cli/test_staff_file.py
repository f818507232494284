"""Staff list files (YAML like examples/staff.yaml, or CSV) become one put_staff per person, with
the staff id the matching rule finds, or one clear error."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest

from herald.errors import UserError
from herald.staff_file import plan_import, read_staff_file
from services.directory.decide import decide
from shared.events import StaffMember

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "staff.yaml"
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def ids() -> itertools.count[int]:
    return itertools.count(1)


def plan(rows: list, existing: list[StaffMember] = ()) -> list:  # type: ignore[assignment,type-arg]
    counter = ids()
    return plan_import(rows, existing, requested_by="test", new_id=lambda: f"staff-{next(counter)}")


def applied(commands: list) -> list[StaffMember]:  # type: ignore[type-arg]
    members = []
    for command in commands:
        decision = decide(None, command, now=NOW)
        assert decision.member is not None, decision.event
        members.append(decision.member)
    return members


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_staff_list_is_thirteen_people_on_x() -> None:
    commands = plan(read_staff_file(EXAMPLE))
    assert len(commands) == 13 and {c.action for c in commands} == {"put_staff"}
    by_name = {c.name: c for c in commands}
    pip = by_name["Pip Tucker"]
    assert pip.accounts is not None and pip.accounts[0].visibility == "private"
    assert pip.accounts[0].platform == "x" and pip.accounts[0].status == "active"
    assert by_name["Shaun Carter"].email == "shaun.carter@staff.devon.example"


def test_importing_again_finds_the_same_people() -> None:
    first = plan(read_staff_file(EXAMPLE))
    members = applied(first)
    again = plan_import(read_staff_file(EXAMPLE), members, requested_by="test", new_id=lambda: "never")
    assert [c.staff_id for c in again] == [c.staff_id for c in first]
    for member, command in zip(members, again, strict=True):
        assert decide(member, command, now=NOW).event is None  # nothing changes, nothing is said


def test_same_name_different_roles_are_two_people_and_two_platforms_one(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "staff.yaml",
        "accounts:\n"
        "  - {name: Sam Lee, role: Librarian, handle: samlee}\n"
        "  - {name: Sam Lee, role: Librarian, platform: mastodon, handle: '@sam@social.example'}\n"
        "  - {name: Sam Lee, role: Planner, handle: samlee_planning}\n",
    )
    commands = plan(read_staff_file(path))
    assert [(c.staff_id, [a.platform for a in c.accounts or ()]) for c in commands] == [
        ("staff-1", ["x", "mastodon"]),
        ("staff-2", ["x"]),
    ]


def test_people_are_matched_by_id_then_e_mail_then_name_and_role(tmp_path: Path) -> None:
    existing = applied(
        plan(
            read_staff_file(
                write(
                    tmp_path,
                    "a.yaml",
                    "accounts:\n"
                    "  - {name: Ann, role: A, email: ann@x.example, handle: ann1}\n"
                    "  - {name: Bob, role: B, handle: bob1}\n",
                )
            )
        )
    )
    later = write(
        tmp_path,
        "b.csv",
        "id,name,role,email,platform,handle\n"
        "staff-9,Cy,C,,x,cy1\n"
        "staff-x,Ann Renamed,Other role,ANN@x.example,x,ann1\n"
        "staff-y,Bob,B,,bluesky,bob.bsky.social\n",
    )
    rows = read_staff_file(later)
    rows = [rows[0], *(r.model_copy(update={"staff_id": None}) for r in rows[1:])]
    assert [c.staff_id for c in plan(rows, existing)] == ["staff-9", "staff-1", "staff-2"]


def test_an_ambiguous_name_and_role_is_refused(tmp_path: Path) -> None:
    twins = [
        StaffMember(staff_id="s-a", version=1, name="Sam Lee", role="Librarian"),
        StaffMember(staff_id="s-b", version=1, name="Sam  Lee", role="librarian"),
    ]
    path = write(tmp_path, "staff.yaml", "accounts:\n  - {name: Sam Lee, role: Librarian, handle: samlee}\n")
    with pytest.raises(
        UserError, match=r"account 1: 2 people .*\(s-a, s-b\): give the row an `id` or `email`"
    ):
        plan(read_staff_file(path), twins)


def test_csv_columns_are_the_yaml_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "staff.csv",
        "name,role,department,email,forum_member,platform,handle,visibility,status\n"
        "Sue Tylcoat,Manager,Digital,sue@x.example,true,twitter,suety,private,active\n",
    )
    [row] = read_staff_file(path)
    assert (row.platform, row.visibility, row.status, row.forum_member) == ("x", "private", "active", True)


def test_a_bad_row_names_the_row(tmp_path: Path) -> None:
    path = write(tmp_path, "staff.yaml", "accounts:\n  - {name: A, handle: a}\n  - {handle: b}\n")
    with pytest.raises(UserError, match=r"account 2: name: Field required"):
        read_staff_file(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("accounts: [\n", "is not valid YAML"),
        ("- just a list\n", "expected a mapping with an `accounts` list"),
    ],
)
def test_malformed_files_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read_staff_file(write(tmp_path, "staff.yaml", text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read"):
        read_staff_file(tmp_path / "nope.yaml")


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "staff.csv"
    path.write_bytes("name,handle\nZoë Brown,zoe\n".encode("cp1252"))
    with pytest.raises(UserError, match=r"is not UTF-8 text \(byte \d+\); save it as UTF-8"):
        read_staff_file(path)
