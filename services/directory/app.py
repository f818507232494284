"""The directory service, wired: commands in → decide → events, snapshot; the HTTP API
(`http_api.py`: reads, exports, `/verify`, the Atom feed, `POST /staff/commands`, `/openapi.json`).

State: a `DirectoryView` of everyone on every worker, fed by the compacted `herald.directory.staff`
snapshot and rebuilt from it on start. `herald.directory.commands` has one partition, so one worker
at a time decides every command, against its view, and no handle can be given to two people
(docs/adr/0013-directory-one-decider.md). After it is assigned the partition (at start, or taking
over from a worker that died), it first waits until its view has read the whole snapshot
(`SnapshotFollower.barrier`): then it knows every decision its predecessor made. The other workers
serve reads from their own view, and a caller can wait for its own write on any of them: the
`POST` can wait for the outcome (`?wait=`) and return the version; `GET /staff/{id}?min_version=`
waits until that worker's view holds it.

Order of effects for a change: the event, then the snapshot, each acknowledged by the broker
before the next, then the command's offset is committed. A crash in between redelivers the
command, which is decided again against the view: after the event only, the event may be
published twice (at-least-once, like every Kafka consumer) but no change is lost; after the
snapshot too, the decider's barrier reads the change back and the command changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from services.directory.checks.wiring import install_rounds
from services.directory.decide import decide
from services.directory.http_api import install_http_api
from services.directory.outcomes import Outcomes
from services.directory.snapshot import write_snapshot
from services.directory.view import DirectoryView
from shared.compacted import SnapshotFollower
from shared.envelope import CloudEvent, utcnow
from shared.events import StaffCommand
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_SNAPSHOT

log = logging.getLogger(__name__)

SERVICE = "directory"


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    """Build the directory's faust app (nothing connects until the worker runs)."""
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    view = DirectoryView()
    follower = SnapshotFollower(DIRECTORY_SNAPSHOT, view, bootstrap, namespace=settings.topic_namespace)
    outcomes = Outcomes()
    answers = SnapshotFollower(
        DIRECTORY_EVENTS, outcomes, bootstrap, namespace=settings.topic_namespace, from_end=True
    )
    decider = _Decider(runtime, view, follower)
    runtime.heartbeat_detail.update(people="0", deciding="no")

    @runtime.app.task
    async def follow_snapshot() -> None:
        await follower.run()

    @runtime.app.task
    async def follow_outcomes() -> None:
        await answers.run()

    runtime.app.on_partitions_assigned.connect(decider.on_assignment)
    runtime.app.on_partitions_revoked.connect(decider.on_revoke)

    @runtime.consumer(DIRECTORY_COMMANDS)
    async def handle_command(envelope: CloudEvent, command: StaffCommand) -> None:
        await decider.handle(command)

    install_http_api(runtime, view, follower, outcomes, answers)
    install_rounds(runtime, view, follower, leading=lambda: decider.deciding)
    return runtime


class _Decider:
    """Decides each command against the view, once the view holds everything decided before."""

    def __init__(self, runtime: ServiceRuntime, view: DirectoryView, follower: SnapshotFollower) -> None:
        self.runtime = runtime
        self.view = view
        self.follower = follower
        self.commands_topic = runtime.settings.topic_namespace + DIRECTORY_COMMANDS.name
        self.behind = True  # until the view has read the snapshot since the last assignment
        self.deciding = False  # holds the commands partition now (so it also runs the rounds)

    async def on_assignment(self, app: Any, assigned: set[Any], **kwargs: Any) -> None:
        """A (re)assignment: another worker may have decided commands meanwhile."""
        self.behind = True
        self.deciding = any(tp.topic == self.commands_topic for tp in assigned)
        self.runtime.heartbeat_detail["deciding"] = "yes" if self.deciding else "no"

    async def on_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Partitions go before they are handed out again: from here until the next assignment
        this worker decides nothing (so at most one worker says `deciding: yes`)."""
        self.behind = True
        self.deciding = False
        self.runtime.heartbeat_detail["deciding"] = "no"

    async def handle(self, command: StaffCommand) -> None:
        if self.behind:
            await self.follower.barrier()
            self.behind = False
        view, runtime = self.view, self.runtime
        decision = decide(view.get(command.staff_id), command, now=utcnow(), handle_owners=view.handle_owners)
        if decision.event is None:
            log.info("%s %s: no change (request %s)", command.action, command.staff_id, command.request_id)
            return
        await runtime.publish(DIRECTORY_EVENTS, command.staff_id, decision.event)
        if not decision.changes_state:
            log.info(
                "rejected %s %s: %s", command.action, command.staff_id, getattr(decision.event, "reason", "")
            )
            return
        written = await write_snapshot(runtime, command.staff_id, decision.member)
        view.apply(command.staff_id, decision.member, partition=written.partition, offset=written.offset)
        runtime.heartbeat_detail["people"] = str(len(view))
        log.info("%s %s (request %s)", decision.event.event_type, command.staff_id, command.request_id)
