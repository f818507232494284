"""faust's Kafka consumer with the fixes Herald needs for at-least-once delivery (faust #596).

After a rebalance and table recovery faust calls `perform_seek` to put every stream partition back
on its committed offset, but aiokafka's `seek_to_committed` leaves alone partitions whose committed
offset is None or 0 (`if offset and offset > 0`). Records fetched while the tables recovered are
dropped when flow control clears the queues, so such a partition goes on *after* them; and with no
committed offset faust's `_new_offset` commits the first run of acked offsets, wherever it starts.
The dropped records are then never processed: the publisher kill test saw items neither posted
nor reported after a SIGKILL before the first commit.

Second: faust drops any fetched record whose offset is below the partition's "read offset", and
advances that offset for every record it fetched, delivered or not. Records fetched before a
rebalance's seek (and cleared or abandoned during it) push the read offset past records that the
seek then fetches again, so those are dropped as "already read": never handled, and the partition's
commit waits behind them forever (seen in the kill test: two partitions stuck, items never posted).
Herald's handlers are idempotent (ledgers, offset guards), so the consumer delivers every fetched
record instead: a duplicate is harmless, a hole is not.

Third: faust commits an event's offset without waiting for the table writes its handler made
(changelog records are only queued). Before any commit this consumer waits until the broker has
acknowledged every write of Herald's `DurableTable`s, so a handler may write with `put` and
move on — one wait per commit instead of one per event — and a committed offset still means
its state is in Kafka. A write the broker refused stops the consumer (no commit past it).

Fourth: faust builds its aiokafka consumer with `fetch_max_wait_ms=1500` (hard-coded in
faust/transport/drivers/aiokafka.py). aiokafka keeps one fetch request in flight per broker, for
the partitions with nothing buffered; while the records of the others are being handled, records
arriving for them cannot end that request, so once they are handled the consumer sits idle until
the broker's 1.5 s wait runs out. Seen as 1.4 s stalls in a burst of subscriptions (the feed_ingest
benchmark's unchanged pass ran at half speed one time in two). Herald asks for 100 ms.

Fifth: faust hands its live set of active partitions to the consumer thread's fetch, and changes
that same set during a rebalance: emptied when everything is paused, refilled when the recovery
resumes the changelog partitions. aiokafka's `fetched_records` reads it on every pass of its wait
and takes an empty set as "every partition" (`if partitions and tp not in partitions`). A fetch
started before a rebalance and still waiting through it therefore drained changelog records the
recovery had just sought back to; it returned while the flow was still stopped, faust's `getmany`
threw the batch away ("getmany called while flow not active") and re-sought only the stream
partitions, and the recovery waited for records already consumed, for ever. Seen as a survivor of
a SIGKILL logging "No event received for active tp … since recovery start" on all four changelog
partitions until the test's deadline (about one takeover in twenty under load). Each fetch now gets
its own copy of the set, as it was when the fetch began.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.exceptions import ProducerSendError
from faust.transport.consumer import RecordMap
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer
from faust.types import TP

from shared.tables import DurableTable, TableWriteError


class _NoReadOffsets(dict):  # type: ignore[type-arg]
    """A read-offset map that never remembers: nothing fetched is dropped as "already read"."""

    def __getitem__(self, key: object) -> None:
        return None

    def __setitem__(self, key: object, value: object) -> None:
        return None


#: Longest the broker may hold a fetch with nothing new (faust's 1.5 s stalls a busy consumer).
FETCH_MAX_WAIT_MS = 100


class _PromptConsumerThread(AIOKafkaConsumerThread):
    """faust's aiokafka consumer thread with a short fetch wait (see the module docstring)."""

    def _create_worker_consumer(self, transport: Any) -> AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # The constructor argument faust does not expose; read by `AIOKafkaConsumer.start()`.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer


class RewindingConsumer(AIOKafkaDriverConsumer):
    """Seeks never-committed stream partitions to their earliest offset after the normal seek,
    delivers every fetched record, and fetches for a fixed set of partitions (see the module
    docstring)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._read_offset = _NoReadOffsets()

    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)

    #: When a fetch last returned (monotonic), for /health: a consumer that stops fetching is stuck.
    last_fetch_at: float | None = None

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        snapshot = None if active_partitions is None else set(active_partitions)
        records = await super()._getmany(snapshot, timeout)
        self.last_fetch_at = time.monotonic()
        return records

    async def perform_seek(self) -> None:
        await super().perform_seek()
        changelogs = self.app.tables.changelog_topics
        uncommitted = [
            tp
            for tp in self.assignment()
            if tp.topic not in changelogs and not self._committed_offset.get(tp)
        ]
        if uncommitted:
            earliest = await self.earliest_offsets(*uncommitted)
            for tp in uncommitted:
                await self.seek(tp, earliest.get(tp) or 0)

    async def _handle_attached(self, commit_offsets: Mapping[TP, int]) -> None:
        await super()._handle_attached(commit_offsets)
        for table in self.app.tables.values():
            if isinstance(table, DurableTable):
                try:
                    await table.confirm_pending()
                except TableWriteError as exc:
                    raise ProducerSendError(str(exc)) from exc
