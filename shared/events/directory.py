"""The staff directory: commands in, facts out.

A staff member (stable id, name, role, department, work e-mail, forum member) holds any number of
social accounts. `StaffCommand` is a command on `herald.directory.commands`, published by the
`herald staff` CLI (and imports), directory's admin HTTP API and other teams' HR systems, and
consumed by directory only. `StaffMember` is the value of the compacted `herald.directory.staff`,
published by directory and consumed by directory (`GET /staff`), notifier (the words of its
alerts) and `herald staff list`: the only topic with the directory's personal data that outlives a
day; erasing a person tombstones it. The facts on the year-long `herald.directory.events`
(`StaffChanged`, `StaffErased`, `StaffAccountChangeRejected`), published by directory and consumed
by notifier and the CLI, carry ids and non-personal fields only (`StaffFacts`), so nothing there
needs erasing (docs/adr/0008-directory-personal-data.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.envelope import EventPayload

Platform = Literal[
    "x", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "youtube", "flickr", "threads", "tiktok"
]
PLATFORMS: tuple[str, ...] = Platform.__args__  # type: ignore[attr-defined]
#: How people write each platform's name.
PLATFORM_NAMES = {
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "youtube": "YouTube",
    "flickr": "Flickr",
    "threads": "Threads",
    "tiktok": "TikTok",
}
Visibility = Literal["public", "private"]
AccountStatus = Literal["under_review", "active", "inactive", "archived"]
StaffStatus = Literal["active", "left"]
#: What a check against the platform found (docs/adr/0012-directory-platform-checks.md).
CheckOutcome = Literal["exists", "missing", "protected", "inactive", "mismatch"]
CHECK_OUTCOMES: tuple[str, ...] = CheckOutcome.__args__  # type: ignore[attr-defined]
StaffAction = Literal[
    "add_staff",
    "update_staff",
    "put_staff",
    "add_account",
    "change_account",
    "remove_account",
    "change_handle",
    "set_visibility",
    "deactivate",
    "leave",
    "erase",
    "record_check",
]
STAFF_ACTIONS: tuple[str, ...] = StaffAction.__args__  # type: ignore[attr-defined]


class SocialAccount(BaseModel):
    """One account of a staff member, as the directory holds it (handle in canonical form)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_id: str = Field(description="Stable id of the account within the directory.")
    platform: Platform = Field(description="Social platform.")
    handle: str = Field(description="Canonical handle (`@user@host`, a domain, or a profile URL).")
    url: str = Field(description="Canonical profile URL.")
    visibility: Visibility = Field(default="public", description="`private`: shown to admins only.")
    status: AccountStatus = Field(default="under_review", description="Where the account is in its life.")
    verified: bool = Field(default=False, description="Someone checked the account is the person's.")
    added_at: datetime = Field(description="When it entered the directory, UTC.")
    changed_at: datetime = Field(description="Last change, UTC.")
    last_checked_at: datetime | None = Field(default=None, description="Last platform check, UTC.")
    check_outcome: CheckOutcome | None = Field(default=None, description="What the last check found.")
    last_post_at: datetime | None = Field(
        default=None, description="The newest post the last check saw, UTC (None: none or unknown)."
    )


class StaffMember(EventPayload):
    """A staff member as the directory holds them (the compacted snapshot's value)."""

    event_type = "herald.directory.staff.v1"

    staff_id: str = Field(description="Stable id, not derived from the name.")
    version: int = Field(ge=1, description="Bumped by every applied change; stale commands are refused.")
    name: str = Field(min_length=1, description="The person's name.")
    role: str = Field(default="", description="Job title.")
    department: str = Field(default="", description="Department or service.")
    email: str | None = Field(default=None, description="Work e-mail (never shown publicly).")
    forum_member: bool = Field(default=False, description="A member of the Social Media Forum.")
    status: StaffStatus = Field(default="active", description="`left`: no longer with the council.")
    accounts: tuple[SocialAccount, ...] = Field(default=(), description="Their social accounts.")

    def subject(self) -> str:
        return self.staff_id


class AccountSpec(BaseModel):
    """An account as a command gives it (the handle in any form the platform's rules accept)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    platform: Platform = Field(description="Social platform.")
    handle: str = Field(min_length=1, description="Handle or profile URL, in any accepted form.")
    visibility: Visibility = Field(default="public", description="`private`: shown to admins only.")
    status: AccountStatus | None = Field(default=None, description="Default under_review for a new one.")
    verified: bool | None = Field(default=None, description="Someone checked it is the person's.")


class StaffCommand(EventPayload):
    """Command: one change to one staff member; the directory answers with `StaffChanged`,
    `StaffErased` or `StaffAccountChangeRejected` carrying the same `request_id`."""

    event_type = "herald.directory.command.v1"

    request_id: str = Field(min_length=1, description="Unique id of the request, echoed in the outcome.")
    action: StaffAction = Field(description="What to do.")
    staff_id: str = Field(min_length=1, description="Whose record (the record key).")
    expected_version: int | None = Field(default=None, description="Refuse unless the record is at it.")
    name: str | None = Field(default=None, description="Name (a new person needs one).")
    role: str | None = Field(default=None, description="Job title.")
    department: str | None = Field(default=None, description="Department or service.")
    email: str | None = Field(default=None, description="Work e-mail.")
    forum_member: bool | None = Field(default=None, description="Member of the Social Media Forum.")
    accounts: tuple[AccountSpec, ...] | None = Field(default=None, description="add_staff, put_staff.")
    account_id: str | None = Field(default=None, description="The account a per-account action is about.")
    platform: Platform | None = Field(default=None, description="add_account.")
    handle: str | None = Field(default=None, description="add_account, change_handle.")
    visibility: Visibility | None = Field(default=None, description="add_account, set_visibility.")
    status: AccountStatus | None = Field(default=None, description="add_account, change_account.")
    verified: bool | None = Field(default=None, description="add_account, change_account.")
    check_outcome: CheckOutcome | None = Field(default=None, description="record_check: what was found.")
    checked_at: datetime | None = Field(default=None, description="record_check: when, UTC.")
    last_post_at: datetime | None = Field(default=None, description="record_check: the newest post seen.")
    requested_by: str = Field(default="cli", description="Who asked (user or tool), for the audit trail.")

    def subject(self) -> str:
        return self.staff_id


class AccountFacts(BaseModel):
    """What an event may say about an account: no handle, no URL."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    account_id: str = Field(description="The account's id.")
    platform: Platform = Field(description="Social platform.")
    visibility: Visibility = Field(description="public or private.")
    status: AccountStatus = Field(description="Where the account is in its life.")
    verified: bool = Field(description="Someone checked it is the person's.")
    check_outcome: CheckOutcome | None = Field(
        default=None, description="What the last platform check found (None: never checked)."
    )


class StaffFacts(BaseModel):
    """What an event may say about a staff member: ids and non-personal fields only."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    staff_id: str = Field(description="The person's id.")
    version: int = Field(description="The record's version.")
    status: StaffStatus = Field(description="active or left.")
    forum_member: bool = Field(description="Member of the Social Media Forum.")
    accounts: tuple[AccountFacts, ...] = Field(default=(), description="Their accounts' facts.")


class StaffChanged(EventPayload):
    """A command was applied. `before`/`after` hold the non-personal facts; `changed` names every
    field that changed (`name`, `accounts.<id>.handle`…), personal ones included, without values:
    read `herald.directory.staff` (admin) for the values."""

    event_type = "herald.directory.staff.changed.v1"

    request_id: str = Field(description="The request that caused it.")
    action: StaffAction = Field(description="The applied action.")
    staff_id: str = Field(description="Whose record.")
    version: int = Field(description="The record's version after the change.")
    before: StaffFacts | None = Field(description="The facts before (None: the person is new).")
    after: StaffFacts = Field(description="The facts after.")
    changed: list[str] = Field(description="Paths of the fields that changed.")
    requested_by: str = Field(description="Who asked.")
    changed_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.staff_id


class HandleClaimed(EventPayload):
    """A worker claims a handle for a person, before giving it to them: the value of the compacted
    `herald.directory.handle-claims` (one partition, keyed by platform, handle and staff id),
    published and consumed by directory only. The earliest claim of a handle still standing holds
    it; a release is a tombstone (docs/adr/0014-directory-split-by-partition.md)."""

    event_type = "herald.directory.handle.claimed.v1"

    staff_id: str = Field(description="Who the handle is claimed for.")
    platform: Platform = Field(description="Social platform.")
    handle: str = Field(description="The handle as uniqueness compares it (casefolded).")
    request_id: str = Field(description="The request that claimed it.")
    claimed_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return claim_key(self.platform, self.handle, self.staff_id)


def claim_key(platform: str, handle: str, staff_id: str) -> str:
    """The claims topic's key: one record per (handle, person), so compaction keeps each
    person's latest claim or release of each handle."""
    return f"{platform}|{handle}|{staff_id}"


class StaffErased(EventPayload):
    """A person was erased: their record is tombstoned; the id now names nobody."""

    event_type = "herald.directory.staff.erased.v1"

    request_id: str = Field(description="The request that caused it.")
    staff_id: str = Field(description="Whose record (now gone).")
    version: int = Field(description="The version that was erased.")
    requested_by: str = Field(description="Who asked.")
    erased_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.staff_id


class StaffAccountChangeRejected(EventPayload):
    """A command was refused; `field` names what was wrong and `reason` says why in words a person
    can act on, without repeating personal values (this topic is kept for a year)."""

    event_type = "herald.directory.change.rejected.v1"

    request_id: str = Field(description="The request that was refused.")
    staff_id: str = Field(description="Whose record it was about.")
    action: str = Field(description="The requested action.")
    field: str | None = Field(default=None, description="The field at fault, e.g. `handle` or `version`.")
    reason: str = Field(description="Why, e.g. `an X handle is 1–15 letters, digits or underscores`.")
    rejected_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.staff_id
