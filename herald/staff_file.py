"""Staff list files (YAML like `examples/staff.yaml`, or CSV with the same column names) into
`put_staff` commands, one per person.

Every row is checked before anything is sent, so a file with a bad row sends nothing and the
error names the row. A row is one account of one person; which person is decided in this order:
1. an `id` column: that staff id;
2. an `email` column that matches a person in the directory (work e-mails are unique);
3. the same name and role as a person in the directory; more than one such person is refused
   (give `id` or `email`);
4. otherwise a new person with a new random id.
Rows of the same file with the same id, e-mail or (no id or e-mail) name and role are one person:
that is how one person is listed on two platforms. Importing the same file twice finds the same
people with the same accounts, so the directory changes nothing and emits nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from herald.errors import UserError
from shared.events import StaffCommand, StaffMember
from shared.events.directory import AccountSpec, AccountStatus, Platform, Visibility

#: What people write for a platform, and what the directory calls it.
PLATFORM_ALIASES = {"twitter": "x"}


def _platform(value: object) -> object:
    return PLATFORM_ALIASES.get(value, value) if isinstance(value, str) else value


class StaffRow(BaseModel):
    """One row: one account of one person (the account columns may be absent: no account)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    staff_id: str | None = Field(default=None, alias="id")
    name: str = Field(min_length=1)
    role: str = ""
    department: str | None = None
    email: str | None = None
    forum_member: bool | None = None
    platform: Platform | None = None
    handle: str | None = None
    visibility: Visibility | None = None
    private: bool | None = None
    status: AccountStatus | None = None
    verified: bool | None = None

    _platform = field_validator("platform", mode="before")(_platform)


class StaffFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    council: str | None = None
    platform: Platform = "x"
    status: AccountStatus | None = None
    accounts: list[dict[str, Any]]

    _platform = field_validator("platform", mode="before")(_platform)


def read_staff_file(path: Path) -> list[StaffRow]:
    """The file's rows, or a one-line `UserError` naming the bad row and field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    if path.suffix.lower() == ".csv":
        raw_rows, defaults = _csv_rows(text), {"platform": "x", "status": None}
    else:
        raw_rows, defaults = _yaml_rows(path, text)
    rows = []
    for number, raw in enumerate(raw_rows, start=1):
        try:
            row = StaffRow.model_validate(raw)
        except ValidationError as exc:
            detail = exc.errors()[0]
            field = ".".join(str(part) for part in detail["loc"]) or "row"
            raise UserError(f"{path}: account {number}: {field}: {detail['msg']}") from None
        if row.handle is not None:
            visibility = row.visibility or ("private" if row.private else "public")
            row = row.model_copy(
                update={
                    "platform": row.platform or defaults["platform"],
                    "visibility": visibility,
                    "status": row.status or defaults["status"],
                }
            )
        rows.append(row)
    return rows


def _yaml_rows(path: Path, text: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        staff_file = StaffFile.model_validate(document)
    except ValidationError as exc:
        raise UserError(
            f"{path}: expected a mapping with an `accounts` list ({exc.errors()[0]['msg']})"
        ) from None
    return staff_file.accounts, {"platform": staff_file.platform, "status": staff_file.status}


def _csv_rows(text: str) -> list[dict[str, Any]]:
    """CSV rows with empty cells left out (an empty cell says nothing, it does not clear)."""
    return [
        {k: v for k, v in row.items() if k and v not in (None, "")}
        for row in csv.DictReader(io.StringIO(text))
    ]


def plan_import(
    rows: Iterable[StaffRow],
    existing: Iterable[StaffMember],
    *,
    requested_by: str,
    new_id: Callable[[], str] = lambda: "staff-" + uuid.uuid4().hex[:12],
) -> list[StaffCommand]:
    """One `put_staff` per person in the file, with the staff id the module's rule finds."""
    members = list(existing)
    people: dict[str, list[StaffRow]] = {}
    file_keys: dict[str, str] = {}
    for number, row in enumerate(rows, start=1):
        key = _file_key(row)
        staff_id = file_keys.get(key) or _match(row, members, number) or new_id()
        file_keys[key] = staff_id
        people.setdefault(staff_id, []).append(row)
    return [_command(staff_id, person, requested_by) for staff_id, person in people.items()]


def _file_key(row: StaffRow) -> str:
    if row.staff_id:
        return "id:" + row.staff_id
    if row.email:
        return "email:" + row.email.strip().casefold()
    return "name:" + _same(row.name) + "\x00" + _same(row.role)


def _match(row: StaffRow, members: list[StaffMember], number: int) -> str | None:
    if row.staff_id:
        return row.staff_id
    if row.email:
        email = row.email.strip().casefold()
        for member in members:
            if member.email and member.email.casefold() == email:
                return member.staff_id
    same = [m for m in members if _same(m.name) == _same(row.name) and _same(m.role) == _same(row.role)]
    if len(same) > 1:
        ids = ", ".join(m.staff_id for m in same)
        raise UserError(
            f"account {number}: {len(same)} people in the directory have this name and role ({ids}):"
            " give the row an `id` or `email` column"
        )
    return same[0].staff_id if same else None


def _same(text: str) -> str:
    return " ".join(text.split()).casefold()


def _command(staff_id: str, rows: list[StaffRow], requested_by: str) -> StaffCommand:
    first = rows[0]
    accounts = [
        AccountSpec(
            platform=row.platform or "x",
            handle=row.handle,
            visibility=row.visibility or "public",
            status=row.status,
            verified=row.verified,
        )
        for row in rows
        if row.handle is not None
    ]

    def given(field: str) -> Any:
        return next((getattr(r, field) for r in rows if getattr(r, field) is not None), None)

    return StaffCommand(
        request_id=str(uuid.uuid4()),
        action="put_staff",
        staff_id=staff_id,
        name=first.name,
        role=first.role,
        department=given("department"),
        email=given("email"),
        forum_member=given("forum_member"),
        accounts=tuple(accounts),
        requested_by=requested_by,
    )
