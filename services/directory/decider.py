"""Deciding the commands of this worker's partitions of `herald.directory.commands`.

Each person's commands are keyed by staff id, so one worker decides all of one person's commands,
in order, against its view (`DirectoryView`: everyone, rebuilt from the compacted snapshot). A
handle is unique across people, and two workers decide different people at the same time, so the
pure decider's check against the handles known here is only a first answer: a handle the person
does not have yet is claimed on the one-partition claims log (`claims.py`) before the change is
applied, and if someone else's claim came first the command is refused as if the decider had seen
it (docs/adr/0014-directory-split-by-partition.md).

Order of effects for a change: the claims, the event, the snapshot, then the releases of handles
the person no longer holds, each acknowledged by the broker before the next, then the command's
offset is committed. A crash in between redelivers the command, decided again against the view:
claims already standing are not written again; after the snapshot the command changes nothing and
only the releases are done. After an assignment (start, rebalance, taking over from a worker that
died) the worker first reads the snapshot and the claims log to their ends (`barrier`), then
settles its partitions' people: claims a crash left behind are released, and handles a record holds
without a claim (a register from before the claims log) are claimed.
"""

from __future__ import annotations

import logging
from collections import ChainMap
from typing import Any

from services.directory.claims import ClaimBook, Claims
from services.directory.decide import decide, rejected
from services.directory.snapshot import write_snapshot
from services.directory.view import DirectoryView
from shared.compacted import SnapshotFollower
from shared.envelope import utcnow
from shared.events import StaffChanged, StaffCommand, StaffErased
from shared.runtime import ServiceRuntime
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS

log = logging.getLogger(__name__)

#: The worker holding this commands partition also runs the directory's rounds (checks, X List).
LEADING_PARTITION = 0


class Decider:
    def __init__(
        self,
        runtime: ServiceRuntime,
        view: DirectoryView,
        snapshot: SnapshotFollower,
        book: ClaimBook,
        claims_log: SnapshotFollower,
    ) -> None:
        self.runtime = runtime
        self.view = view
        self.snapshot = snapshot
        self.book = book
        self.claims_log = claims_log
        self.claims = Claims(runtime, book)
        self.commands_topic = runtime.settings.topic_namespace + DIRECTORY_COMMANDS.name
        self.mine: set[int] = set()  # the commands partitions this worker holds now
        self.behind = True  # until the view and the book have read to their ends since the assignment

    @property
    def leading(self) -> bool:
        return LEADING_PARTITION in self.mine

    async def on_assignment(self, app: Any, assigned: set[Any], **kwargs: Any) -> None:
        """A (re)assignment: another worker may have decided this worker's new people meanwhile."""
        self.behind = True
        self.mine = {tp.partition for tp in assigned if tp.topic == self.commands_topic}
        self._tell()

    async def on_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Partitions go before they are handed out again: from here until the next assignment
        this worker decides nobody."""
        self.behind = True
        self.mine = set()
        self._tell()

    def _tell(self) -> None:
        self.runtime.heartbeat_detail["deciding"] = ",".join(map(str, sorted(self.mine))) or "no"

    async def handle(self, command: StaffCommand) -> None:
        if self.behind:
            await self.snapshot.barrier()
            await self.claims_log.barrier()
            await self.settle()
            self.behind = False
        current = self.view.get(command.staff_id)
        now = utcnow()
        # Who holds each handle by the claims log; the view (lagging for other workers' people)
        # only for what the log has no claim of.
        owners = ChainMap(self.book.holders, self.view.handle_owners)
        decision = decide(current, command, now=now, handle_owners=owners)
        if decision.event is None:  # nothing to change; a crash may have left claims to release
            await self.claims.release(command.staff_id, self.book.stale(command.staff_id, current))
            log.info("%s %s: no change (request %s)", command.action, command.staff_id, command.request_id)
            return
        event, member = decision.event, decision.member
        if isinstance(event, StaffChanged) and member is not None:
            wanted = self.book.missing(member)
            taken = await self.claims.claim(command.staff_id, wanted, request_id=command.request_id, now=now)
            if taken:
                await self.claims.release(command.staff_id, wanted)
                (platform, _), holder = sorted(taken.items())[0]
                reason = f"that {platform} account is already held by staff id {holder!r}"
                event, member = rejected(command, reason, now, "handle"), current
        await self.runtime.publish(DIRECTORY_EVENTS, command.staff_id, event)
        if not isinstance(event, StaffChanged | StaffErased):
            log.info("rejected %s %s: %s", command.action, command.staff_id, getattr(event, "reason", ""))
            return
        written = await write_snapshot(self.runtime, command.staff_id, member)
        self.view.apply(command.staff_id, member, partition=written.partition, offset=written.offset)
        await self.claims.release(command.staff_id, self.book.stale(command.staff_id, member))
        self.runtime.heartbeat_detail["people"] = str(len(self.view))
        log.info("%s %s (request %s)", event.event_type, command.staff_id, command.request_id)

    async def settle(self) -> None:
        """Make the claims of this worker's people match their records: release what a crash left
        behind, claim what a record holds without a claim."""
        people = {m.staff_id for m in self.view.members()} | self.book.staff_ids()
        for staff_id in sorted(people):
            if DIRECTORY_COMMANDS.partition_for(staff_id.encode()) not in self.mine:
                continue
            member = self.view.get(staff_id)
            await self.claims.release(staff_id, self.book.stale(staff_id, member))
            taken = await self.claims.claim(
                staff_id, self.book.missing(member), request_id="settle", now=utcnow()
            )
            for (platform, handle), holder in taken.items():
                log.error("%s holds %s %s, but %s claimed it first", staff_id, platform, handle, holder)
