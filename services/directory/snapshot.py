"""Writing the compacted `herald.directory.staff` snapshot (`shared.compacted` follows it).

The snapshot's value is the current `StaffMember` in the usual CloudEvents envelope, or a tombstone
(value None) when the person was erased, so compaction forgets them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.envelope import wrap
from shared.events import StaffMember
from shared.producer import record_headers
from shared.runtime import ServiceRuntime
from shared.topics import DIRECTORY_SNAPSHOT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """Where a snapshot record landed (the view orders records of one staff id by offset)."""

    partition: int
    offset: int


async def write_snapshot(runtime: ServiceRuntime, staff_id: str, member: StaffMember | None) -> Written:
    """Send the record (or a tombstone) keyed by staff id and wait for the broker's ack.

    Not `runtime.publish`: that takes payloads only and does not say where the record landed."""
    topic = runtime.topic(DIRECTORY_SNAPSHOT)
    if member is None:
        pending = await topic.send(key=staff_id.encode(), value=None)
        kind = "tombstone"
    else:
        envelope = wrap(member, source=runtime.source)
        pending = await topic.send(
            key=staff_id.encode(), value=envelope.to_bytes(), headers=record_headers(envelope)
        )
        kind = envelope.type
    metadata = await pending
    runtime.published.labels(DIRECTORY_SNAPSHOT.name, kind).inc()
    return Written(partition=metadata.partition, offset=metadata.offset)
