"""What a command does to one staff member: a pure function of (current record, command, now).

No I/O and no clock of its own, so every rule and every refusal is tested with plain data
(docs/architecture.md "Retrieve, parse, decide, act"). The caller publishes the event, then writes the
snapshot (which its view, and every other worker's, reads back).

Rules:
- `add_staff` needs a name; an id that exists is refused. `put_staff` (imports) adds the person if
  unknown, else sets the fields it gives and adds or changes the accounts it lists (matched by
  platform and handle), never removing one: the same file twice changes nothing, emits nothing.
- Every other action needs a known id; per-account actions a known `account_id`.
- `expected_version`, when given, must be the record's version (else: stale, field `version`).
- A handle follows its platform's rules (`handles.py`) and is held by one person per platform.
- `deactivate` makes one account (or, without `account_id`, every account) inactive; `leave` marks
  the person left and archives every account; `erase` removes the record (`StaffErased`).
- `record_check` (from the platform checks, `checks/`) sets an account's `last_checked_at`,
  `check_outcome` and `last_post_at`; a result older than the one recorded changes nothing; it
  leaves `changed_at` (a person's last edit) alone.
- An applied change bumps the version; a command that changes nothing emits nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.directory.handles import InvalidHandle, canonical, handle_key
from shared.events import StaffAccountChangeRejected, StaffChanged, StaffCommand, StaffErased, StaffMember
from shared.events.directory import AccountFacts, AccountSpec, SocialAccount, StaffFacts

DirectoryEvent = StaffChanged | StaffErased | StaffAccountChangeRejected

#: (platform, casefolded handle) → staff id of the person who holds it.
HandleOwners = Mapping[tuple[str, str], str]

STAFF_FIELDS = ("name", "role", "department", "email", "forum_member")
ACCOUNT_FIELDS = (
    "handle",
    "url",
    "visibility",
    "status",
    "verified",
    "last_checked_at",
    "check_outcome",
    "last_post_at",
)


@dataclass(frozen=True)
class Decision:
    """The event to publish (None: nothing to say) and the record afterwards (None: none)."""

    event: DirectoryEvent | None
    member: StaffMember | None

    @property
    def changes_state(self) -> bool:
        return isinstance(self.event, StaffChanged | StaffErased)


class _Refused(Exception):
    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def rejected(
    command: StaffCommand, reason: str, now: datetime, field: str | None = None
) -> StaffAccountChangeRejected:
    """The rejection event for a command (also used by the app for record-level problems)."""
    return StaffAccountChangeRejected(
        request_id=command.request_id,
        staff_id=command.staff_id,
        action=command.action,
        field=field,
        reason=reason,
        rejected_at=now,
    )


def facts(member: StaffMember) -> StaffFacts:
    """The non-personal projection an event may carry."""
    return StaffFacts(
        staff_id=member.staff_id,
        version=member.version,
        status=member.status,
        forum_member=member.forum_member,
        accounts=tuple(
            AccountFacts(
                account_id=a.account_id,
                platform=a.platform,
                visibility=a.visibility,
                status=a.status,
                verified=a.verified,
                check_outcome=a.check_outcome,
            )
            for a in member.accounts
        ),
    )


def decide(
    current: StaffMember | None,
    command: StaffCommand,
    *,
    now: datetime,
    handle_owners: HandleOwners | None = None,
) -> Decision:
    """Apply `command` to `current` (None: unknown id). Never raises for bad input: a refusal is
    a `StaffAccountChangeRejected` and the record stays as it was."""
    try:
        return _decide(current, command, now, handle_owners or {})
    except _Refused as refusal:
        return Decision(rejected(command, refusal.reason, now, refusal.field), current)


def _decide(
    current: StaffMember | None, command: StaffCommand, now: datetime, owners: HandleOwners
) -> Decision:
    action = command.action
    if current is None and action not in ("add_staff", "put_staff"):
        raise _Refused("staff_id", f"unknown staff id {command.staff_id!r}")
    if current is not None and action == "add_staff":
        raise _Refused("staff_id", f"staff id {command.staff_id!r} already exists")
    if current is not None and command.expected_version not in (None, current.version):
        raise _Refused(
            "version", f"stale: the record is at version {current.version}, not {command.expected_version}"
        )
    if current is not None and action == "erase":
        erased = StaffErased(
            request_id=command.request_id,
            staff_id=current.staff_id,
            version=current.version,
            requested_by=command.requested_by,
            erased_at=now,
        )
        return Decision(erased, None)

    candidate = _apply(current, command, now)
    if candidate == current:
        return Decision(None, current)
    _check_handles(candidate, owners)
    assert candidate is not None
    after = candidate.model_copy(update={"version": current.version + 1 if current else 1})
    event = StaffChanged(
        request_id=command.request_id,
        action=action,
        staff_id=after.staff_id,
        version=after.version,
        before=facts(current) if current else None,
        after=facts(after),
        changed=_changed(current, after),
        requested_by=command.requested_by,
        changed_at=now,
    )
    return Decision(event, after)


def _apply(current: StaffMember | None, command: StaffCommand, now: datetime) -> StaffMember:
    """The record the command asks for (version not yet bumped), or `_Refused`."""
    action = command.action
    if current is None:
        name = _clean(command.name)
        if not name:
            raise _Refused("name", "a name is required for a new staff member")
        member = _set_fields(StaffMember(staff_id=command.staff_id, version=1, name=name), command)
        return _put_accounts(member, command, now)
    if action in ("put_staff", "update_staff"):
        member = _set_fields(current, command)
        return _put_accounts(member, command, now) if action == "put_staff" else member
    if action == "add_account":
        if command.platform is None or command.handle is None:
            raise _Refused("platform" if command.platform is None else "handle", "add_account needs both")
        spec = AccountSpec(
            platform=command.platform,
            handle=command.handle,
            visibility=command.visibility or "public",
            status=command.status,
            verified=command.verified,
        )
        found = _canonical(spec.platform, spec.handle)
        if any(
            handle_key(a.platform, a.handle) == handle_key(spec.platform, found[0]) for a in current.accounts
        ):
            raise _Refused("handle", "this person already holds that account")
        return _with_accounts(current, (*current.accounts, _new_account(current, spec, command, now)))
    if action == "leave":
        accounts = tuple(_account_update(a, {"status": "archived"}, now) for a in current.accounts)
        return current.model_copy(update={"status": "left", "accounts": accounts})
    if action == "deactivate" and command.account_id is None:
        accounts = tuple(_account_update(a, {"status": "inactive"}, now) for a in current.accounts)
        return _with_accounts(current, accounts)
    return _with_accounts(current, _account_action(current, command, now))


def _account_action(current: StaffMember, command: StaffCommand, now: datetime) -> tuple[SocialAccount, ...]:
    if command.account_id is None:
        raise _Refused("account_id", f"{command.action} needs an account_id")
    if not any(a.account_id == command.account_id for a in current.accounts):
        raise _Refused("account_id", f"no account {command.account_id!r} for staff id {current.staff_id!r}")
    action = command.action
    if action == "remove_account":
        return tuple(a for a in current.accounts if a.account_id != command.account_id)
    if action == "record_check":
        return tuple(_record_check(a, command, now) for a in current.accounts)
    changes: dict[str, Any] = {}
    if action == "deactivate":
        changes["status"] = "inactive"
    elif action == "set_visibility":
        if command.visibility is None:
            raise _Refused("visibility", "set_visibility needs public or private")
        changes["visibility"] = command.visibility
    elif action == "change_handle":
        if command.handle is None:
            raise _Refused("handle", "change_handle needs the new handle")
    else:  # change_account
        changes = {
            k: getattr(command, k)
            for k in ("visibility", "status", "verified")
            if getattr(command, k) is not None
        }
    accounts = []
    for account in current.accounts:
        if account.account_id == command.account_id:
            if action in ("change_handle", "change_account") and command.handle is not None:
                changes["handle"], changes["url"] = _canonical(account.platform, command.handle)
            account = _account_update(account, changes, now)
        accounts.append(account)
    return tuple(accounts)


def _record_check(account: SocialAccount, command: StaffCommand, now: datetime) -> SocialAccount:
    """The check result on its account (others unchanged); a result older than the recorded one
    is dropped (two checks' commands can arrive out of order after a rebalance)."""
    if account.account_id != command.account_id:
        return account
    if command.check_outcome is None:
        raise _Refused("check_outcome", "record_check needs what the check found")
    checked_at = command.checked_at or now
    if checked_at > now:
        raise _Refused("checked_at", "a check cannot be recorded for a time still to come")
    if account.last_checked_at is not None and checked_at < account.last_checked_at:
        return account
    return account.model_copy(
        update={
            "last_checked_at": checked_at,
            "check_outcome": command.check_outcome,
            "last_post_at": command.last_post_at,
        }
    )


def _set_fields(member: StaffMember, command: StaffCommand) -> StaffMember:
    changes: dict[str, Any] = {}
    if command.name is not None:
        name = _clean(command.name)
        if not name:
            raise _Refused("name", "the name must not be empty")
        changes["name"] = name
    for field in ("role", "department"):
        value = getattr(command, field)
        if value is not None:
            changes[field] = _clean(value)
    if command.email is not None:
        email = command.email.strip()
        if email and not _looks_like_email(email):
            raise _Refused("email", "a work e-mail looks like name@example.gov.uk")
        changes["email"] = email.lower() or None
    if command.forum_member is not None:
        changes["forum_member"] = command.forum_member
    return member.model_copy(update=changes)


def _put_accounts(member: StaffMember, command: StaffCommand, now: datetime) -> StaffMember:
    accounts = list(member.accounts)
    for spec in command.accounts or ():
        handle, url = _canonical(spec.platform, spec.handle)
        key = handle_key(spec.platform, handle)
        index = next((i for i, a in enumerate(accounts) if handle_key(a.platform, a.handle) == key), None)
        if index is None:
            accounts.append(_new_account(member, spec, command, now, position=len(accounts)))
            continue
        changes: dict[str, Any] = {"handle": handle, "url": url, "visibility": spec.visibility}
        if spec.status is not None:
            changes["status"] = spec.status
        if spec.verified is not None:
            changes["verified"] = spec.verified
        accounts[index] = _account_update(accounts[index], changes, now)
    return _with_accounts(member, tuple(accounts))


def _new_account(
    member: StaffMember, spec: AccountSpec, command: StaffCommand, now: datetime, position: int | None = None
) -> SocialAccount:
    handle, url = _canonical(spec.platform, spec.handle)
    seed = (
        f"{member.staff_id}/{command.request_id}/{position if position is not None else len(member.accounts)}"
    )
    return SocialAccount(
        # From the request, not a random source: deciding the same command again gives the same id.
        account_id="acc-" + uuid.uuid5(uuid.NAMESPACE_URL, seed).hex[:12],
        platform=spec.platform,
        handle=handle,
        url=url,
        visibility=spec.visibility,
        status=spec.status or "under_review",
        verified=bool(spec.verified),
        added_at=now,
        changed_at=now,
    )


def _account_update(account: SocialAccount, changes: dict[str, Any], now: datetime) -> SocialAccount:
    updated = account.model_copy(update=changes)
    return updated if updated == account else updated.model_copy(update={"changed_at": now})


def _with_accounts(member: StaffMember, accounts: tuple[SocialAccount, ...]) -> StaffMember:
    return member.model_copy(update={"accounts": accounts})


def _check_handles(member: StaffMember, owners: HandleOwners) -> None:
    seen: set[tuple[str, str]] = set()
    for account in member.accounts:
        key = handle_key(account.platform, account.handle)
        owner = owners.get(key)
        if owner is not None and owner != member.staff_id:
            raise _Refused("handle", f"that {account.platform} account is already held by staff id {owner!r}")
        if key in seen:
            raise _Refused("handle", f"the same {account.platform} account is listed twice")
        seen.add(key)


def _changed(before: StaffMember | None, after: StaffMember) -> list[str]:
    if before is None:
        return [f for f in STAFF_FIELDS if getattr(after, f) not in (None, "", False)] + [
            f"accounts.{a.account_id}" for a in after.accounts
        ]
    paths = [f for f in (*STAFF_FIELDS, "status") if getattr(before, f) != getattr(after, f)]
    old = {a.account_id: a for a in before.accounts}
    new = {a.account_id: a for a in after.accounts}
    for account_id in [*old, *(i for i in new if i not in old)]:
        if account_id not in new or account_id not in old:
            paths.append(f"accounts.{account_id}")
            continue
        paths += [
            f"accounts.{account_id}.{f}"
            for f in ACCOUNT_FIELDS
            if getattr(old[account_id], f) != getattr(new[account_id], f)
        ]
    return paths


def _canonical(platform: str, handle: str) -> tuple[str, str]:
    try:
        found = canonical(platform, handle)
    except InvalidHandle as exc:
        raise _Refused("handle", exc.reason) from None
    return found.handle, found.url


def _clean(text: str | None) -> str:
    return " ".join((text or "").split())


def _looks_like_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(local) and bool(at) and "." in domain and not any(ch.isspace() for ch in text)
