"""The whole directory in memory, for `GET /staff` and the handle-uniqueness check.

Why a view, and not the faust Table alone: the Table is partitioned like `herald.directory.commands`
(4 partitions), so with several workers each one holds only its partitions' people — fine for
deciding a command about one staff id, not for listing everyone or asking "who holds @suety?".
The options were:

- a faust `GlobalTable`: every worker reads every changelog partition. faust's global tables have a
  history of workers silently missing updates (robinhood/faust#716 and #541, still open;
  faust-streaming/faust#212, standby events lost after recovery), and they would duplicate what the
  compacted snapshot topic already carries;
- `@app.table_route`: forwards a request to the worker owning *one key*; a list of all accounts would
  still need a scatter-gather over every worker;
- this view: every worker follows the compacted `herald.directory.staff` snapshot (all its
  partitions, no consumer group) into a dict. Any worker answers `GET /staff` for everyone, and one
  worker works trivially.

Each entry remembers the snapshot offset it came from, so the worker that made a change can apply it
at once (read-your-writes) and the follower, reading the same record later, neither repeats it nor
brings back an older value. Across workers the view is eventually consistent: two workers could each
accept the same new handle for different people within the follower's lag (a few hundred ms). That
race is accepted for the skeleton and would be closed by keying a handle-claim topic by handle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.directory.api_models import PublicAccount, PublicStaff
from services.directory.handles import handle_key
from shared.events import StaffMember
from shared.events.directory import SocialAccount

#: Account states anyone may see (under review, inactive and archived ones are for admins).
SHOWN_STATUSES = ("active",)


def shown_accounts(member: StaffMember) -> list[SocialAccount]:
    """The accounts anyone may see: public and active, of a person still with the council."""
    if member.status != "active":
        return []
    return [a for a in member.accounts if a.visibility == "public" and a.status in SHOWN_STATUSES]


def public_staff(member: StaffMember) -> PublicStaff | None:
    """What anyone may see of a person: no e-mail, no private or unshown account; None when
    nothing of them is shown (no public active account, or they left)."""
    accounts = [
        PublicAccount(platform=a.platform, handle=a.handle, url=a.url, verified=a.verified)
        for a in shown_accounts(member)
    ]
    if not accounts:
        return None
    return PublicStaff(
        staff_id=member.staff_id,
        name=member.name,
        role=member.role,
        department=member.department,
        accounts=accounts,
    )


def public_record(member: StaffMember) -> dict[str, Any] | None:
    """`public_staff` as JSON."""
    shown = public_staff(member)
    return None if shown is None else shown.model_dump(mode="json")


class DirectoryView:
    """staff id → record, plus (platform, handle) → staff id; fed by `apply` only."""

    def __init__(self) -> None:
        self._members: dict[str, StaffMember] = {}
        self._positions: dict[str, tuple[int, int]] = {}
        self._owners: dict[tuple[str, str], str] = {}

    def apply(self, staff_id: str, member: StaffMember | None, *, partition: int, offset: int) -> bool:
        """Record the snapshot record at (partition, offset); None is a tombstone (erased).

        Returns False when an equal or newer record of that staff id was already applied."""
        seen = self._positions.get(staff_id)
        if seen is not None and seen[0] == partition and seen[1] >= offset:
            return False
        self._positions[staff_id] = (partition, offset)
        old = self._members.pop(staff_id, None)
        for account in old.accounts if old else ():
            key = handle_key(account.platform, account.handle)
            if self._owners.get(key) == staff_id:
                del self._owners[key]
        if member is not None:
            self._members[staff_id] = member
            for account in member.accounts:
                self._owners[handle_key(account.platform, account.handle)] = staff_id
        return True

    def get(self, staff_id: str) -> StaffMember | None:
        return self._members.get(staff_id)

    def members(self) -> list[StaffMember]:
        """Everyone, sorted by name (then id): the admin's view."""
        return sorted(self._members.values(), key=lambda m: (m.name.casefold(), m.staff_id))

    def public(self) -> list[dict[str, Any]]:
        """What anyone may see, sorted like `members`."""
        return [record for m in self.members() if (record := public_record(m)) is not None]

    @property
    def handle_owners(self) -> Mapping[tuple[str, str], str]:
        return self._owners

    def __len__(self) -> int:
        return len(self._members)
