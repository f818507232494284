"""The notifier's read-only view of `herald.directory.staff`: whom a directory alert is about, and
who the forum members are (an e-mail target's `to: forum_members`).

The directory's facts carry no names or handles, so the words come from the snapshot. The directory
publishes the fact first and the snapshot record just after, so a fact can arrive before its record:
`known_at` waits for the record at the fact's version until a deadline, then gives up (the alert is
then worded from the facts alone). It also gives up at once for an erased person (their tombstone
removed them, and nothing of them is kept) and for a record already past the fact's version (a
replay: today's name and handle would be wrong for it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from shared.envelope import EventPayload
from shared.events import StaffMember

#: How long a directory fact waits for its snapshot record (normally milliseconds behind it).
RECORD_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class Known:
    """A person's record at a fact's version, and at the version before when the view saw it."""

    member: StaffMember
    previous: StaffMember | None = None


class StaffView:
    """staff id → current record (and the one before it); erased ids; fed by `apply` only."""

    def __init__(self, caught_up: asyncio.Event) -> None:
        self.caught_up = caught_up  # set by the follower once it has read the snapshot
        self._members: dict[str, StaffMember] = {}
        self._previous: dict[str, StaffMember] = {}
        self._erased: set[str] = set()
        self._changed = asyncio.Event()

    def apply(self, staff_id: str, payload: EventPayload | None, *, partition: int, offset: int) -> None:
        """One snapshot record, in order (None: a tombstone, the person was erased)."""
        old = self._members.pop(staff_id, None)
        self._previous.pop(staff_id, None)
        if isinstance(payload, StaffMember):
            self._members[staff_id] = payload
            self._erased.discard(staff_id)
            if old is not None:
                self._previous[staff_id] = old
        else:
            self._erased.add(staff_id)
        self._changed.set()
        self._changed = asyncio.Event()

    def forum_members(self) -> list[str]:
        """The work e-mails of the staff marked as forum members who have not left, sorted; empty
        until the view has read the snapshot (an e-mail to them then waits rather than goes short)."""
        if not self.caught_up.is_set():
            return []
        return sorted(
            m.email for m in self._members.values() if m.forum_member and m.status != "left" and m.email
        )

    def known(self, staff_id: str, version: int) -> Known | None:
        member = self._members.get(staff_id)
        if member is None or member.version != version:
            return None
        previous = self._previous.get(staff_id)
        return Known(member, previous if previous is not None and previous.version == version - 1 else None)

    def settled(self, staff_id: str, version: int) -> bool:
        """Whether waiting longer cannot bring the record at `version`."""
        if not self.caught_up.is_set():
            return False
        member = self._members.get(staff_id)
        if member is not None:
            return member.version >= version
        return staff_id in self._erased

    async def known_at(
        self, staff_id: str, version: int, *, timeout: float = RECORD_WAIT_SECONDS
    ) -> Known | None:
        """The record at `version`, waiting up to `timeout` for it; None when it does not come."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.settled(staff_id, version):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waiters = [
                asyncio.ensure_future(self._changed.wait()),
                asyncio.ensure_future(self.caught_up.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        return self.known(staff_id, version)
