"""The directory service, wired: commands in → decide → events, snapshot, table; the HTTP API
(`http_api.py`: reads, exports, `/verify`, the Atom feed, `POST /staff/commands`, `/openapi.json`).

State: a faust Table `staff` (staff id → record as JSON) co-partitioned with
`herald.directory.commands`; it is what a command is decided against, and it is rebuilt from its
compacted changelog on start (so two workers split the people by partition). `GET /staff` and the
handle-uniqueness check read a `DirectoryView` of *everyone*, fed by the compacted snapshot topic
on every worker (see `view.py` for why a view rather than a GlobalTable or `@app.table_route`).

Order of effects for a change: the event, then the snapshot, then the table, each acknowledged by
the broker before the next (the table write is only queued, as faust does). A crash in between
redelivers the command, which is decided again against the unchanged table: the event may be
published twice (at-least-once, like every Kafka consumer), but no change is ever lost. The other
order would lose events: a table already updated makes the redelivered command a no-op.
"""

from __future__ import annotations

import logging

import faust

from services.directory.decide import decide, rejected
from services.directory.http_api import install_http_api
from services.directory.snapshot import write_snapshot
from services.directory.view import DirectoryView
from shared.compacted import SnapshotFollower
from shared.envelope import CloudEvent, utcnow
from shared.events import StaffCommand, StaffMember
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
    table = runtime.app.Table(
        "staff",
        default=None,
        partitions=DIRECTORY_COMMANDS.partitions,
        key_type=str,
        help="staff id → StaffMember (JSON); the directory as decided, co-partitioned with commands.",
    )
    runtime.heartbeat_detail["people"] = "0"

    @runtime.app.task
    async def follow_snapshot() -> None:
        await follower.run()

    @runtime.consumer(DIRECTORY_COMMANDS)
    async def handle_command(envelope: CloudEvent, command: StaffCommand) -> None:
        # Uniqueness needs the whole directory: wait until the view has read the snapshot.
        await follower.caught_up.wait()
        now = utcnow()
        record_key = _current_key()
        if record_key is not None and record_key != command.staff_id:
            # The table lives in the record's partition: a mis-keyed command would file the
            # account where later, correctly keyed commands cannot find it.
            reason = f"record key {record_key!r} does not match staff_id {command.staff_id!r}"
            refusal = rejected(command, reason, now, field="staff_id")
            await runtime.publish(DIRECTORY_EVENTS, command.staff_id, refusal)
            return
        held = table.get(command.staff_id)
        current = StaffMember.model_validate(held) if held else None
        decision = decide(current, command, now=now, handle_owners=view.handle_owners)
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
        if decision.member is None:
            if command.staff_id in table:
                del table[command.staff_id]  # a tombstone on the changelog: erased there too
        else:
            table[command.staff_id] = decision.member.model_dump(mode="json")
        runtime.heartbeat_detail["people"] = str(len(view))
        log.info("%s %s (request %s)", decision.event.event_type, command.staff_id, command.request_id)

    install_http_api(runtime, view, follower)
    return runtime


def _current_key() -> str | None:
    event = faust.current_event()
    key = event.message.key if event is not None else None
    return key.decode(errors="replace") if isinstance(key, bytes) else None
