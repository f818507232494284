"""Writing the directory's compacted topics (`shared.compacted` follows them): the
`herald.directory.staff` snapshot and the `herald.directory.handle-claims` log.

A value is the current record in the usual CloudEvents envelope, or a tombstone (value None) when
it is gone — a person erased, a claim released — so compaction forgets it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.envelope import EventPayload, wrap
from shared.events import StaffMember
from shared.producer import record_headers
from shared.runtime import ServiceRuntime
from shared.topics import DIRECTORY_SNAPSHOT, TopicSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """Where a record landed (the view orders records of one staff id by offset)."""

    partition: int
    offset: int


async def write_snapshot(runtime: ServiceRuntime, staff_id: str, member: StaffMember | None) -> Written:
    """Send the person's record (or a tombstone) keyed by staff id and wait for the broker's ack."""
    return await write_compacted(runtime, DIRECTORY_SNAPSHOT, staff_id, member)


async def write_compacted(
    runtime: ServiceRuntime, spec: TopicSpec, key: str, payload: EventPayload | None
) -> Written:
    """Send a record (or a tombstone) and wait for the broker's ack.

    Not `runtime.publish`: that takes payloads only and does not say where the record landed."""
    topic = runtime.topic(spec)
    if payload is None:
        pending = await topic.send(key=key.encode(), value=None)
        kind = "tombstone"
    else:
        envelope = wrap(payload, source=runtime.source)
        pending = await topic.send(
            key=key.encode(), value=envelope.to_bytes(), headers=record_headers(envelope)
        )
        kind = envelope.type
    metadata = await pending
    runtime.published.labels(spec.name, kind).inc()
    return Written(partition=metadata.partition, offset=metadata.offset)
