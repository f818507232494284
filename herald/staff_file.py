"""Reading a staff list file (the YAML format of `examples/staff.yaml`) into change requests.

Every row is checked before anything is sent, so a file with a bad row sends nothing and the
error names the row. Rows become `upsert` requests: importing the same file twice changes nothing.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from herald.errors import UserError
from shared.events import StaffAccountChangeRequested
from shared.events.directory import Platform
from shared.ids import staff_id_for


class StaffRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    handle: str = Field(min_length=1)
    role: str = ""
    private: bool = False
    platform: Platform | None = None
    staff_id: str | None = None


class StaffFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    council: str | None = None
    platform: Platform = "twitter"
    accounts: list[dict[str, Any]]


def read_staff_file(path: Path, *, requested_by: str = "import") -> list[StaffAccountChangeRequested]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        staff_file = StaffFile.model_validate(document)
    except ValidationError as exc:
        raise UserError(
            f"{path}: expected a mapping with an `accounts` list ({exc.errors()[0]['msg']})"
        ) from None
    requests = []
    for number, raw in enumerate(staff_file.accounts, start=1):
        try:
            row = StaffRow.model_validate(raw)
            staff_id = row.staff_id or staff_id_for(row.name)
        except (ValidationError, ValueError) as exc:
            detail = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
            field = ".".join(str(part) for part in detail["loc"]) or "row"
            raise UserError(f"{path}: account {number} ({raw!r}): {field}: {detail['msg']}") from None
        requests.append(
            StaffAccountChangeRequested(
                request_id=str(uuid.uuid4()),
                action="upsert",
                staff_id=staff_id,
                name=row.name,
                role=row.role,
                platform=row.platform or staff_file.platform,
                handle=row.handle,
                private=row.private,
                requested_by=requested_by,
            )
        )
    return requests
