"""Following a compacted topic into memory: every partition from the beginning, no consumer group.

For a service that needs a whole keyed state at hand (the directory's view of everyone, the
notifier's view of whom an alert is about). The follower decodes each record with the topic's
catalogue and hands it, or None for a tombstone, to a sink together with where it came from.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from shared.envelope import EventDecodeError, EventPayload, decode
from shared.topics import TopicSpec

log = logging.getLogger(__name__)


class Sink(Protocol):
    def apply(self, key: str, payload: EventPayload | None, *, partition: int, offset: int) -> object: ...


class SnapshotFollower:
    """Reads every partition of `spec`'s compacted topic into `sink`; `caught_up` is set once it
    has read what was there when it started. After a broker error it starts over, skipping what it
    already applied, so the sink never sees a key go back to an older value."""

    def __init__(
        self,
        spec: TopicSpec,
        sink: Sink,
        bootstrap_servers: str,
        *,
        namespace: str,
        caught_up: asyncio.Event | None = None,
    ) -> None:
        self.spec = spec
        self.sink = sink
        self.bootstrap_servers = bootstrap_servers
        self.topic = namespace + spec.name
        self.caught_up = caught_up or asyncio.Event()
        self.skipped = 0
        self._next: dict[int, int] = {}  # partition → first offset not yet applied

    async def run(self) -> None:
        """Follow forever; on a broker error start over."""
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except (KafkaError, OSError) as exc:
                log.warning("%s follower: %s: %s; retrying in 2s", self.spec.name, type(exc).__name__, exc)
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
            partitions = [TopicPartition(self.topic, p) for p in range(self.spec.partitions)]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record)
                if not self.caught_up.is_set() and await self._reached(consumer, ends):
                    log.info("%s follower caught up", self.spec.name)
                    self.caught_up.set()
        finally:
            await consumer.stop()

    async def _reached(self, consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
        for tp, end in ends.items():
            if await consumer.position(tp) < end:
                return False
        return True

    def _apply(self, record: ConsumerRecord) -> None:
        if record.offset < self._next.get(record.partition, 0):
            return  # read again after a restart
        self._next[record.partition] = record.offset + 1
        if not record.key:
            self.skipped += 1
            return
        key = record.key.decode(errors="replace")
        payload: EventPayload | None = None
        if record.value is not None:
            try:
                _, payload = decode(record.value, self.spec.accepts)
            except EventDecodeError as exc:
                self.skipped += 1
                log.warning("%s record for %s skipped: %s", self.spec.name, key, exc.reason)
                return
        self.sink.apply(key, payload, partition=record.partition, offset=record.offset)
