"""The compacted `herald.directory.staff` snapshot: writing it, and following it into the view.

The snapshot's value is the current `StaffMember` in the usual CloudEvents envelope, or a tombstone
(value None) when the person was erased, so compaction forgets them.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from services.directory.view import DirectoryView
from shared.envelope import EventDecodeError, decode, wrap
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


class SnapshotFollower:
    """Reads every partition of the snapshot from the beginning, without a consumer group, into a
    `DirectoryView`; `caught_up` is set once it has read what was there when it started."""

    def __init__(self, view: DirectoryView, bootstrap_servers: str, *, namespace: str) -> None:
        self.view = view
        self.bootstrap_servers = bootstrap_servers
        self.topic = namespace + DIRECTORY_SNAPSHOT.name
        self.partitions = DIRECTORY_SNAPSHOT.partitions
        self.caught_up = asyncio.Event()
        self.skipped = 0

    async def run(self) -> None:
        """Follow forever; on a broker error start over (the view ignores records it already has)."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("snapshot follower: %s: %s; retrying in 2s", type(exc).__name__, exc)
                await asyncio.sleep(2)

    async def _follow(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        await consumer.start()
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(self.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record)
                if not self.caught_up.is_set() and await self._reached(consumer, ends):
                    log.info("directory view caught up: %d people", len(self.view))
                    self.caught_up.set()
        finally:
            await consumer.stop()

    async def _reached(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def _apply(self, record: ConsumerRecord) -> None:
        if not record.key:
            self.skipped += 1
            return
        staff_id = record.key.decode(errors="replace")
        member: StaffMember | None = None
        if record.value is not None:
            try:
                _, payload = decode(record.value, DIRECTORY_SNAPSHOT.accepts)
            except EventDecodeError as exc:
                self.skipped += 1
                log.warning("snapshot record for %s skipped: %s", staff_id, exc.reason)
                return
            assert isinstance(payload, StaffMember)
            member = payload
        self.view.apply(staff_id, member, partition=record.partition, offset=record.offset)
