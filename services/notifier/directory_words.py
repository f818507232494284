"""The words of directory alerts: who joined, changed a handle, lost an account, left, was erased.

The directory's facts (`StaffChanged`) carry no names or handles; the words come from the person's
record in the notifier's view of the snapshot (`Known`), at the fact's version. Without it (not
there in time, a replayed old fact, or the person since erased) the alert is worded from the facts
alone: staff id, action, platforms and the names of the changed fields, never a value. An erased
person's alert names nobody. Outside targets never see a private account's handle or an e-mail.
"""

from __future__ import annotations

from services.notifier.staff import Known
from shared.events import StaffAccountChangeRejected, StaffChanged, StaffErased, StaffMember
from shared.events.directory import PLATFORM_NAMES, AccountFacts, SocialAccount

Words = tuple[str, list[str]]


def staff_changed(e: StaffChanged, internal: bool, known: Known | None) -> Words:
    if known is None:
        return _from_facts(e)
    m, before = known.member, known.previous
    who = _who(m)
    touched = _accounts_touched(e.changed)
    if e.before is None:
        headline = f"Welcome: {who} joined the directory" + _with(m.accounts, internal)
    elif e.action == "leave" or "status" in e.changed and m.status == "left":
        headline = f"Directory: {m.name} left"
    elif e.action == "change_handle" and touched:
        headline = _handle_changed(m, before, touched[0], internal)
    elif e.action == "add_account" and touched and (added := _account(m, touched[0])):
        headline = f"Directory: {m.name} added {_account_words(added, internal)}"
    elif e.action == "remove_account" and touched:
        gone = _account(before, touched[0]) if before else None
        headline = f"Directory: {m.name}'s {_account_noun(gone, internal)} removed"
    else:
        headline = f"Directory: {m.name}'s record updated ({_fields(e.changed)})"
    lines = [headline.removeprefix("Directory: "), "", *_member_lines(m, internal)]
    lines += ["", f"Changed: {_fields(e.changed)}", f"Request: {e.request_id}", f"Version: {e.version}"]
    return headline, lines


def is_routine(e: StaffChanged) -> bool:
    """A platform check that found what the last one did, or found a first-checked account well:
    recorded, not worth the forum's time. A check whose outcome changed otherwise (an account gone
    missing, gone quiet, back again) is alerted like any change."""
    if e.action != "record_check":
        return False
    before = {a.account_id: a.check_outcome for a in (e.before.accounts if e.before else ())}
    return all(
        before.get(a.account_id) in (a.check_outcome, None if a.check_outcome == "exists" else "")
        for a in e.after.accounts
    )


def staff_erased(e: StaffErased, internal: bool) -> Words:
    return f"Directory: staff id {e.staff_id} erased", [
        f"Everything the directory held about staff id {e.staff_id} was erased (by {e.requested_by}).",
        "Herald keeps nothing of them; later alerts about this id name nobody.",
        "",
        f"Request: {e.request_id}",
    ]


def rejected(e: StaffAccountChangeRejected, internal: bool) -> Words:
    headline = f"Directory change REJECTED ({e.action} {e.staff_id}): {e.reason}"
    lines = [f"A request to {e.action} staff id {e.staff_id} was refused.", f"Reason: {e.reason}"]
    if e.field:
        lines.append(f"Field: {e.field}")
    return headline, [*lines, "", f"Request: {e.request_id}"]


def _from_facts(e: StaffChanged) -> Words:
    platforms = sorted({_platform(a.platform) for a in _facts_touched(e)})
    on = f" ({', '.join(platforms)})" if platforms else ""
    headline = f"Directory: staff id {e.staff_id}: {e.action.replace('_', ' ')}{on}"
    return headline, [
        f"The directory applied {e.action} to staff id {e.staff_id} (version {e.version}).",
        f"Changed: {_fields(e.changed)}",
        "The record itself was not at hand (or is gone), so this alert names nobody.",
        "",
        f"Request: {e.request_id}",
    ]


def _facts_touched(e: StaffChanged) -> list[AccountFacts]:
    touched = set(_accounts_touched(e.changed))
    every = {a.account_id: a for a in (*(e.before.accounts if e.before else ()), *e.after.accounts)}
    return [a for account_id, a in every.items() if account_id in touched]


def _handle_changed(m: StaffMember, before: StaffMember | None, account_id: str, internal: bool) -> str:
    now = _account(m, account_id)
    if now is None:
        return f"Directory: {m.name}'s handle changed"
    if now.visibility == "private" and not internal:
        return f"Directory: {m.name}'s private {_platform(now.platform)} account has a new handle"
    was = _account(before, account_id) if before else None
    old = f"{_handle(was, internal)} → " if was else "to "
    return f"Directory: {m.name}'s {_platform(now.platform)} handle changed {old}{_handle(now, internal)}"


def _member_lines(m: StaffMember, internal: bool) -> list[str]:
    lines = [f"  Name: {m.name}", f"  Role: {m.role or '—'}"]
    if m.department:
        lines.append(f"  Department: {m.department}")
    if internal and m.email:
        lines.append(f"  E-mail: {m.email}")
    lines += [f"  {_platform(a.platform)}: {_handle(a, internal)} ({a.status})" for a in m.accounts]
    return [*lines, f"  Staff id: {m.staff_id}"]


def _who(m: StaffMember) -> str:
    return f"{m.name} ({m.role})" if m.role else m.name


def _with(accounts: tuple[SocialAccount, ...], internal: bool) -> str:
    if not accounts:
        return ""
    return " with " + ", ".join(_account_words(a, internal) for a in accounts)


def _account_words(a: SocialAccount, internal: bool) -> str:
    if a.visibility == "private" and not internal:
        return f"a private {_platform(a.platform)} account"
    return f"{_platform(a.platform)} {_handle(a, internal)}"


def _account_noun(a: SocialAccount | None, internal: bool) -> str:
    if a is None:
        return "account"
    if a.visibility == "private" and not internal:
        return f"private {_platform(a.platform)} account"
    return f"{_platform(a.platform)} account {_handle(a, internal)}"


def _handle(a: SocialAccount, internal: bool) -> str:
    if a.visibility == "private" and not internal:
        return "a private account"
    shown = a.handle if a.handle.startswith("@") or "://" in a.handle else f"@{a.handle}"
    return shown + (" (private)" if a.visibility == "private" else "")


def _account(m: StaffMember, account_id: str) -> SocialAccount | None:
    return next((a for a in m.accounts if a.account_id == account_id), None)


def _accounts_touched(changed: list[str]) -> list[str]:
    found: list[str] = []
    for path in changed:
        parts = path.split(".")
        if parts[0] == "accounts" and len(parts) >= 2 and parts[1] not in found:
            found.append(parts[1])
    return found


def _fields(changed: list[str]) -> str:
    return ", ".join(changed) or "nothing"


def _platform(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)
