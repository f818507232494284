"""The staff social-media directory: commands in, facts out.

`StaffAccountChangeRequested` is a command: published by the `herald staff` CLI (and imports) to
`herald.directory.commands`, consumed by directory only. The others are facts: published by
directory to `herald.directory.events`, consumed by notifier and the `herald staff` CLI (to report
what became of its requests); `StaffAccount` is the value of the compacted
`herald.directory.accounts`, read by directory itself (`GET /staff`) and `herald staff list`. All
keyed by staff id; all personal data (`shared/topics.py` classifies these topics `personal`), so
none of them is in the public contract: other teams get the accounts that may be shown from
`GET /staff`.
Private (protected) accounts are flagged with `private`; consumers that show handles to people
outside the forum must not show those.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.envelope import EventPayload

Platform = Literal["twitter", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "other"]


class StaffAccount(EventPayload):
    """One staff member's account as the directory holds it (also the compacted snapshot value)."""

    event_type = "herald.directory.account.v1"

    staff_id: str = Field(description="Stable id of the person (not the handle, which can change).")
    name: str = Field(min_length=1, description="The person's name.")
    role: str = Field(default="", description="Job title or team.")
    platform: Platform = Field(default="twitter", description="Social platform of the account.")
    handle: str = Field(description="Handle without the leading @.")
    private: bool = Field(default=False, description="A private (protected) account: not shown publicly.")

    def subject(self) -> str:
        return self.staff_id


class StaffAccountChangeRequested(EventPayload):
    """Command: add, update, remove or upsert (add or update to match; imports use it) an account."""

    event_type = "herald.directory.change.requested.v1"

    request_id: str = Field(description="Unique id of the request, echoed in the outcome event.")
    action: Literal["add", "update", "remove", "upsert"] = Field(description="What to do.")
    staff_id: str = Field(min_length=1, description="Whose account.")
    name: str | None = Field(default=None, description="New name (add/upsert: required).")
    role: str | None = Field(default=None, description="New role.")
    platform: Platform | None = Field(default=None, description="Platform (default twitter on add).")
    handle: str | None = Field(default=None, description="New handle, with or without @.")
    private: bool | None = Field(default=None, description="New private flag.")
    requested_by: str = Field(default="cli", description="Who asked (user or tool), for the audit trail.")

    def subject(self) -> str:
        return self.staff_id


class StaffAccountAdded(EventPayload):
    """A new account is in the directory."""

    event_type = "herald.directory.account.added.v1"

    request_id: str = Field(description="The request that caused it.")
    account: StaffAccount = Field(description="The account as now held.")
    changed_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.account.staff_id


class StaffAccountUpdated(EventPayload):
    """An account changed (e.g. a new handle); `previous` is how it was."""

    event_type = "herald.directory.account.updated.v1"

    request_id: str = Field(description="The request that caused it.")
    account: StaffAccount = Field(description="The account as now held.")
    previous: StaffAccount = Field(description="The account as it was.")
    changed_fields: list[str] = Field(description="Names of the fields that changed.")
    changed_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.account.staff_id


class StaffAccountRemoved(EventPayload):
    """An account left the directory (the person left, or closed it)."""

    event_type = "herald.directory.account.removed.v1"

    request_id: str = Field(description="The request that caused it.")
    account: StaffAccount = Field(description="The account as it was before removal.")
    changed_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.account.staff_id


class StaffAccountChangeRejected(EventPayload):
    """A change request was refused; `reason` says why in words a person can act on."""

    event_type = "herald.directory.change.rejected.v1"

    request_id: str = Field(description="The request that was refused.")
    staff_id: str = Field(description="Whose account it was about.")
    action: str = Field(description="The requested action.")
    reason: str = Field(description="Why, e.g. `invalid X handle '@a b': …` or `unknown staff id`.")
    rejected_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.staff_id
