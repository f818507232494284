"""Following a compacted topic into memory: every partition from the beginning, no consumer group.

For a service that needs a whole keyed state at hand (the directory's view of everyone, the
notifier's view of whom an alert is about). The follower decodes each record with the topic's
catalogue and hands it, or None for a tombstone, to a sink together with where it came from.
`barrier()` waits until the sink holds everything the topic held when it was called: what a
writer taking over from another worker needs before it decides against the sink. With
`from_end`, the follower reads only what is written after it starts (the directory's wait for a
command's outcome on its events topic).
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
        from_end: bool = False,
    ) -> None:
        self.spec = spec
        self.sink = sink
        self.bootstrap_servers = bootstrap_servers
        self.topic = namespace + spec.name
        self.caught_up = caught_up or asyncio.Event()
        self.skipped = 0
        self.from_end = from_end
        self._next: dict[int, int] = {}  # partition → first offset not yet applied
        self._read: dict[int, int] = {}  # partition → the consumer's position after the last batch
        self._consumer: AIOKafkaConsumer | None = None
        self._progress = asyncio.Event()  # set (and replaced) after every batch, empty ones too

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
            if self.from_end and not self._next:
                await consumer.seek_to_end(*partitions)
            elif self.from_end:  # after a broker error: go on from where it was
                for tp in partitions:
                    consumer.seek(tp, self._next.get(tp.partition, 0))
            else:
                await consumer.seek_to_beginning(*partitions)
            ends = await consumer.end_offsets(partitions)
            self._consumer = consumer
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        self._apply(record)
                for tp in partitions:
                    position = await consumer.position(tp)
                    self._read[tp.partition] = max(position, self._read.get(tp.partition, 0))
                    self._next.setdefault(tp.partition, position)
                self._progress.set()
                self._progress = asyncio.Event()
                if not self.caught_up.is_set() and await self._reached(consumer, ends):
                    log.info("%s follower caught up", self.spec.name)
                    self.caught_up.set()
        finally:
            self._consumer = None
            await consumer.stop()

    async def barrier(self) -> None:
        """Return once the sink has seen every record the topic held when this was called.

        The end offsets are asked of the broker now; then this waits for the follower to read
        past them (at most one fetch wait when records are pending, at once when none are)."""
        await self.caught_up.wait()
        while True:
            consumer = self._consumer
            if consumer is not None:
                partitions = [TopicPartition(self.topic, p) for p in range(self.spec.partitions)]
                try:
                    ends = await consumer.end_offsets(partitions)
                    break
                except KafkaError as exc:  # the follower starts over; so does the barrier
                    log.warning("%s barrier: %s; asking again", self.spec.name, type(exc).__name__)
            await self._progress.wait()
        while any(self._read.get(tp.partition, 0) < end for tp, end in ends.items()):
            await self._progress.wait()

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
