"""The whole directory in memory, on every worker: what commands are decided against (handle
uniqueness included) and what `GET /staff` answers from.

Why a view of the compacted `herald.directory.staff` snapshot (all its partitions, no consumer
group) and not a faust table: a partitioned Table holds only the worker's partitions' people, and
a faust `GlobalTable` has a history of workers silently missing updates (robinhood/faust#716 and
#541, still open; faust-streaming/faust#212, standby events lost after recovery) and would
duplicate what the snapshot already carries. `@app.table_route` forwards a request to the worker
owning *one key*; a list of everyone would still need a scatter-gather over every worker. With the
view, any worker answers for everyone, and one worker works trivially.

Each entry remembers the snapshot offset it came from, so the worker that made a change can apply it
at once (read-your-writes) and the follower, reading the same record later, neither repeats it nor
brings back an older value. The view is also what commands are decided against: each worker
decides the people of its partitions of `herald.directory.commands`, and before its first decision
after an assignment it waits until the view has read the whole snapshot
(`SnapshotFollower.barrier`), so it holds every decision its predecessor made for them. For other
workers' people the view trails by the follower's lag, so a handle's holder comes from the claims
log first (docs/adr/0014-directory-split-by-partition.md); `reached` lets a read wait for a
version the caller knows was written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
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
        self._changed = asyncio.Event()  # set (and replaced) by every apply that changed something

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
        self._changed.set()
        self._changed = asyncio.Event()
        return True

    def has_reached(self, staff_id: str, version: int) -> bool:
        """The view holds `staff_id` at `version` or later, or has seen them erased."""
        member = self._members.get(staff_id)
        if member is None:
            return staff_id in self._positions  # a tombstone was applied: erased
        return member.version >= version

    async def reached(self, staff_id: str, version: int, timeout: float) -> bool:
        """Wait (up to `timeout` seconds) until `has_reached`; False if it did not."""
        return await self.wait_for(lambda: self.has_reached(staff_id, version), timeout)

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait (up to `timeout` seconds) until `condition()` holds, checked after every change;
        False if it did not."""
        try:
            async with asyncio.timeout(timeout):
                while not condition():
                    await self._changed.wait()
        except TimeoutError:
            return False
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
