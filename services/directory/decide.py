"""What a change request does to one account: a pure function of (current account, command).

No I/O and no clock of its own (`now` is passed in), so every rule — and every rejection reason —
is tested with plain data (docs/architecture.md "Retrieve, parse, decide, act"). The caller does the I/O:
publish the event, write the snapshot and the table.

Rules (issue 3, the directory's walking-skeleton minimum):
- `add`: a new staff id needs a name and a handle. Adding an id that exists with identical data is
  a no-op (no event), so replaying a command changes nothing; with different data it is refused
  ("already exists; use update").
- `update`: only for a known id; the given fields replace the held ones; no change → no event.
- `remove`: only for a known id.
- `upsert`: add if unknown, update if different, nothing if identical — importing the same file
  twice changes nothing.
- Handles follow their platform's rules (`handles.py`) and are unique per platform across staff,
  case-insensitively.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.directory.handles import InvalidHandle, handle_key, normalise_handle
from shared.events import (
    StaffAccount,
    StaffAccountAdded,
    StaffAccountChangeRejected,
    StaffAccountChangeRequested,
    StaffAccountRemoved,
    StaffAccountUpdated,
)

DirectoryEvent = StaffAccountAdded | StaffAccountUpdated | StaffAccountRemoved | StaffAccountChangeRejected

#: The fields of an account a command can set (staff_id is the key, never changed).
ACCOUNT_FIELDS = ("name", "role", "platform", "handle", "private")

#: (platform, casefolded handle) → staff id of the account that holds it.
HandleOwners = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class Decision:
    """The outcome: the event to publish (None: nothing to say) and the account afterwards."""

    event: DirectoryEvent | None
    account: StaffAccount | None

    @property
    def changes_state(self) -> bool:
        """True when the directory changed (the snapshot and the table must be written)."""
        return isinstance(self.event, StaffAccountAdded | StaffAccountUpdated | StaffAccountRemoved)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def rejected(command: StaffAccountChangeRequested, reason: str, now: datetime) -> StaffAccountChangeRejected:
    """The rejection event for a command (also used by the app for record-level problems)."""
    return StaffAccountChangeRejected(
        request_id=command.request_id,
        staff_id=command.staff_id,
        action=command.action,
        reason=reason,
        rejected_at=now,
    )


def decide(
    current: StaffAccount | None,
    command: StaffAccountChangeRequested,
    *,
    now: datetime,
    handle_owners: HandleOwners | None = None,
) -> Decision:
    """Apply `command` to `current` (None: the staff id is unknown). Never raises for bad input:
    a refused command becomes a `StaffAccountChangeRejected` and the account stays as it was."""
    try:
        return _decide(current, command, now, handle_owners or {})
    except _Refused as refusal:
        return Decision(rejected(command, refusal.reason, now), current)


def _decide(
    current: StaffAccount | None, command: StaffAccountChangeRequested, now: datetime, owners: HandleOwners
) -> Decision:
    staff_id = command.staff_id
    if command.action == "remove":
        if current is None:
            raise _Refused(f"unknown staff id {staff_id!r}: nothing to remove")
        return Decision(
            StaffAccountRemoved(request_id=command.request_id, account=current, changed_at=now), None
        )
    if command.action == "update" and current is None:
        raise _Refused(f"unknown staff id {staff_id!r}: use add (or upsert) for a new account")

    if current is None or command.action == "add":
        candidate = _new_account(command)
    else:
        candidate = _merged(current, command)

    if current is not None and command.action == "add":
        if candidate == current:
            return Decision(None, current)
        raise _Refused(f"staff id {staff_id!r} already exists; use update")
    if candidate == current:
        return Decision(None, current)

    owner = owners.get(handle_key(candidate.platform, candidate.handle))
    if owner is not None and owner != staff_id:
        raise _Refused(
            f"handle {'@' + candidate.handle!r} on {candidate.platform} is already held by staff id {owner!r}"
        )

    if current is None:
        return Decision(
            StaffAccountAdded(request_id=command.request_id, account=candidate, changed_at=now), candidate
        )
    changed = [name for name in ACCOUNT_FIELDS if getattr(current, name) != getattr(candidate, name)]
    event = StaffAccountUpdated(
        request_id=command.request_id,
        account=candidate,
        previous=current,
        changed_fields=changed,
        changed_at=now,
    )
    return Decision(event, candidate)


def _new_account(command: StaffAccountChangeRequested) -> StaffAccount:
    name = _clean_name(command.name)
    if name is None:
        raise _Refused(f"name is required to {command.action} staff id {command.staff_id!r}")
    if command.handle is None:
        raise _Refused(f"handle is required to {command.action} staff id {command.staff_id!r}")
    platform = command.platform or "twitter"
    return StaffAccount(
        staff_id=command.staff_id,
        name=name,
        role=(command.role or "").strip(),
        platform=platform,
        handle=_handle(platform, command.handle),
        private=bool(command.private),
    )


def _merged(current: StaffAccount, command: StaffAccountChangeRequested) -> StaffAccount:
    changes: dict[str, Any] = {}
    if command.name is not None:
        name = _clean_name(command.name)
        if name is None:
            raise _Refused(f"name must not be empty (staff id {command.staff_id!r})")
        changes["name"] = name
    if command.role is not None:
        changes["role"] = command.role.strip()
    if command.platform is not None:
        changes["platform"] = command.platform
    if command.private is not None:
        changes["private"] = command.private
    platform = changes.get("platform", current.platform)
    # A platform change re-checks the held handle against the new platform's rules too.
    changes["handle"] = _handle(platform, command.handle if command.handle is not None else current.handle)
    return current.model_copy(update=changes)


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(name.split())
    return cleaned or None


def _handle(platform: str, handle: str) -> str:
    try:
        return normalise_handle(platform, handle)
    except InvalidHandle as exc:
        raise _Refused(exc.reason) from None
