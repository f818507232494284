"""The directory's HTTP answers as pydantic models: the handlers build their bodies with them and
`openapi.py` builds the document's schemas from them, so the document cannot drift from what is
served. The admin's records are `StaffMember` itself (the snapshot's model)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import StaffMember
from shared.events.directory import Platform


class PublicAccount(BaseModel):
    """An account anyone may see: public and active, of a person still with the council."""

    model_config = ConfigDict(frozen=True)

    platform: Platform = Field(description="Social platform.")
    handle: str = Field(description="Canonical handle (`@user@host`, a domain, or a profile URL).")
    url: str = Field(description="Canonical profile URL.")
    verified: bool = Field(description="Someone checked the account is the person's.")


class PublicStaff(BaseModel):
    """What anyone may see of a person: no e-mail, no private, unshown or archived account."""

    model_config = ConfigDict(frozen=True)

    staff_id: str = Field(description="Stable id, not derived from the name.")
    name: str = Field(description="The person's name.")
    role: str = Field(description="Job title.")
    department: str = Field(description="Department or service.")
    accounts: list[PublicAccount] = Field(min_length=1, description="Their public, active accounts.")


class StaffOfficial(BaseModel):
    """Who holds a verified council account, as `/verify` names them."""

    model_config = ConfigDict(frozen=True)

    staff_id: str = Field(description="Stable id of the person.")
    name: str = Field(description="The person's name.")
    role: str = Field(description="Job title.")
    department: str = Field(description="Department or service.")


class VerifyAnswer(BaseModel):
    """Is this a council account? `council_account` is true only for a public, active account of a
    person still with the council; anything else (unknown, private, under review, archived) gets
    the same answer, built from the question alone."""

    model_config = ConfigDict(frozen=True)

    council_account: bool = Field(description="True: the account is one of the council's staff.")
    platform: Platform = Field(description="The platform asked about.")
    handle: str = Field(description="The handle asked about, in its canonical form.")
    url: str = Field(description="The canonical profile URL of that handle.")
    verified: bool = Field(default=False, description="Someone checked the account is the person's.")
    staff: StaffOfficial | None = Field(default=None, description="Who holds it (only when it is theirs).")


class Accepted(BaseModel):
    """A command was queued on herald.directory.commands; its outcome comes on the events topic."""

    model_config = ConfigDict(frozen=True)

    request_id: str = Field(description="The command's request id, echoed in its outcome event.")


class Decided(BaseModel):
    """A command's outcome, for `POST /staff/commands?wait=`: ids, the version, and for a refusal
    the field and the reason (as on the events topic, so no personal value)."""

    model_config = ConfigDict(frozen=True)

    request_id: str = Field(description="The command's request id.")
    staff_id: str = Field(description="Whose record it was for.")
    outcome: Literal["changed", "erased", "rejected"] = Field(description="What the directory decided.")
    version: int | None = Field(
        default=None,
        description="changed, erased: the record's version; `GET /staff/{id}?min_version=` waits for it.",
    )
    field: str | None = Field(default=None, description="rejected: the field at fault, if one is.")
    reason: str | None = Field(default=None, description="rejected: why.")


class FieldError(BaseModel):
    """One thing wrong with a request, and where."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(
        description="Where: a body field (`accounts.0.platform`), a query parameter, or `body`."
    )
    message: str = Field(description="What is wrong, in words a person can act on.")


class Problem(BaseModel):
    """An error as RFC 9457 problem details (`application/problem+json`)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="The HTTP status's phrase.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong, for a person.")
    errors: list[FieldError] = Field(default=[], description="The fields at fault (422 only).")


class Export(BaseModel):
    """The JSON export: the staff records the caller may see, and when they were taken."""

    model_config = ConfigDict(frozen=True)

    generated_at: str = Field(description="When the export was made (UTC, ISO 8601).")
    access: Literal["public", "admin"] = Field(description="`admin`: full records, private accounts too.")
    staff: list[PublicStaff] | list[StaffMember] = Field(description="The records, sorted by name.")


class Health(BaseModel):
    """The worker's liveness or readiness (`/health`, `/ready`: served by every Herald service)."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="`ready`, or why not yet.")
