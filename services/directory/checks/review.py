"""The directory's review report, as the US Digital Registry keeps one: accounts whose record was
not checked for six months are flagged, and accounts a check found missing, inactive, protected or
pointing elsewhere are listed for someone to act on. Pure: the clock is passed in.

Archived accounts and people who left are not reviewed. The report names handles: it is for
admins (`herald staff review` reads the personal snapshot topic)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared.events import StaffMember

Reason = Literal["unchecked", "missing", "inactive", "mismatch", "protected"]
#: Most urgent first.
REASONS: tuple[Reason, ...] = ("missing", "mismatch", "inactive", "unchecked", "protected")


@dataclass(frozen=True)
class ReviewRow:
    reason: Reason
    staff_id: str
    name: str
    account_id: str
    platform: str
    handle: str
    visibility: str
    last_checked_at: datetime | None
    last_post_at: datetime | None


def review(members: Iterable[StaffMember], now: datetime, *, unchecked_after: timedelta) -> list[ReviewRow]:
    """Every account needing a person's attention, most urgent reason first, then by name. An
    account is listed once: a stale check is `unchecked` whatever it found then."""
    rows = []
    for member in members:
        if member.status != "active":
            continue
        for a in member.accounts:
            if a.status == "archived":
                continue
            reason: Reason | None
            if a.last_checked_at is None or now - a.last_checked_at > unchecked_after:
                reason = "unchecked"
            elif a.check_outcome in ("missing", "inactive", "mismatch", "protected"):
                reason = a.check_outcome
            else:
                reason = None
            if reason is not None:
                rows.append(
                    ReviewRow(
                        reason=reason,
                        staff_id=member.staff_id,
                        name=member.name,
                        account_id=a.account_id,
                        platform=a.platform,
                        handle=a.handle,
                        visibility=a.visibility,
                        last_checked_at=a.last_checked_at,
                        last_post_at=a.last_post_at,
                    )
                )
    rows.sort(key=lambda r: (REASONS.index(r.reason), r.name.casefold(), r.account_id))
    return rows
