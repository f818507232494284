"""Who holds each handle, across the directory's workers: the `herald.directory.handle-claims` log.

Each worker decides the people of its partitions of `herald.directory.commands`. Before giving a
person a handle it does not yet have, it writes a claim (`HandleClaimed`, keyed by platform, handle
and staff id) to the one-partition claims topic and waits until its own `ClaimBook` has read that
far: every worker reads the same records in the same order, so every worker agrees who got there
first. The earliest claim of a handle still standing holds it; a release is a tombstone of that
(handle, person) key, and the next claim standing, if any, holds it then. That rule survives
compaction, which keeps one record per key and never reorders what it keeps, provided nobody
claims a handle they already have a record for (a second claim would move their record later) —
`missing` gives only the handles a person has no record of. A claim that lost is released at once;
claims a crash left behind (one that lost, or a handle given up but not yet released) are
released when the worker next decides for that person or takes their partition over (`stale`).
docs/adr/0014-directory-split-by-partition.md says why this and not a saga.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime

from services.directory.handles import handle_key
from services.directory.snapshot import write_compacted
from shared.envelope import EventPayload
from shared.events import HandleClaimed, StaffMember
from shared.events.directory import claim_key
from shared.runtime import ServiceRuntime
from shared.topics import DIRECTORY_HANDLE_CLAIMS

HandleKey = tuple[str, str]


class ClaimBook:
    """The claims topic, read in order: handle → the offsets and holders of its standing claims.
    A `shared.compacted.SnapshotFollower` sink (one partition)."""

    def __init__(self) -> None:
        self._standing: dict[HandleKey, dict[str, int]] = {}  # handle → staff id → claim offset
        self._holders: dict[HandleKey, str] = {}  # handle → the staff id of its earliest claim
        self._by_staff: dict[str, set[HandleKey]] = {}
        self._read_to = -1  # the last offset applied
        self._progress = asyncio.Event()

    def apply(self, key: str, payload: EventPayload | None, *, partition: int, offset: int) -> bool:
        if offset <= self._read_to:
            return False
        self._read_to = offset
        platform, rest = key.split("|", 1)
        handle, staff_id = rest.rsplit("|", 1)  # a handle may hold "|" (a URL); a staff id does not
        handle_of = (platform, handle)
        claims = self._standing.setdefault(handle_of, {})
        if isinstance(payload, HandleClaimed):
            claims.setdefault(staff_id, offset)
            self._by_staff.setdefault(staff_id, set()).add(handle_of)
        else:
            claims.pop(staff_id, None)
            self._by_staff.get(staff_id, set()).discard(handle_of)
        if claims:
            self._holders[handle_of] = min(claims, key=claims.__getitem__)
        else:
            self._standing.pop(handle_of, None)
            self._holders.pop(handle_of, None)
        self._progress.set()
        self._progress = asyncio.Event()
        return True

    def holder(self, handle_of: HandleKey) -> str | None:
        """Who holds a handle: the earliest claim standing."""
        return self._holders.get(handle_of)

    @property
    def holders(self) -> Mapping[HandleKey, str]:
        return self._holders

    def claimed_by(self, staff_id: str) -> set[HandleKey]:
        """The handles a person has a standing claim of (held or not)."""
        return set(self._by_staff.get(staff_id, ()))

    def missing(self, member: StaffMember | None) -> set[HandleKey]:
        """The handles of a record its person has no claim of yet."""
        return handles_of(member) - self.claimed_by(member.staff_id) if member else set()

    def stale(self, staff_id: str, member: StaffMember | None) -> set[HandleKey]:
        """A person's claims their record does not hold: to release."""
        return self.claimed_by(staff_id) - handles_of(member)

    def staff_ids(self) -> set[str]:
        return {staff_id for staff_id, held in self._by_staff.items() if held}

    async def read_to(self, offset: int) -> None:
        """Wait until the book has applied the record at `offset`."""
        while self._read_to < offset:
            await self._progress.wait()


def handles_of(member: StaffMember | None) -> set[HandleKey]:
    return {handle_key(a.platform, a.handle) for a in member.accounts} if member else set()


class Claims:
    """Claiming and releasing handles on the claims topic, each record acknowledged, and waiting
    for the book to have read the claims written."""

    def __init__(self, runtime: ServiceRuntime, book: ClaimBook) -> None:
        self.runtime = runtime
        self.book = book

    async def claim(
        self, staff_id: str, wanted: Iterable[HandleKey], *, request_id: str, now: datetime
    ) -> dict[HandleKey, str]:
        """Claim `wanted` for `staff_id`; returns the handles someone else holds, with their holder
        (empty: all are this person's now)."""
        wanted = set(wanted)
        if not wanted:
            return {}
        last = -1
        for platform, handle in sorted(wanted):
            claim = HandleClaimed(
                staff_id=staff_id, platform=platform, handle=handle, request_id=request_id, claimed_at=now
            )
            written = await write_compacted(self.runtime, DIRECTORY_HANDLE_CLAIMS, claim.subject(), claim)
            last = max(last, written.offset)
        await self.book.read_to(last)
        return {
            handle_of: holder
            for handle_of in wanted
            if (holder := self.book.holder(handle_of)) not in (staff_id, None)
        }

    async def release(self, staff_id: str, handles: Iterable[HandleKey]) -> None:
        """Tombstone a person's claims of `handles` (each acknowledged)."""
        for platform, handle in sorted(handles):
            await write_compacted(
                self.runtime, DIRECTORY_HANDLE_CLAIMS, claim_key(platform, handle, staff_id), None
            )
