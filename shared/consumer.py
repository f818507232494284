"""faust's Kafka consumer with one fix Herald needs for at-least-once delivery (faust #596).

After a rebalance and table recovery faust calls `perform_seek` to put every stream partition back
on its committed offset, but aiokafka's `seek_to_committed` leaves alone partitions whose committed
offset is None or 0 (`if offset and offset > 0`). Records fetched while the tables recovered are
dropped when flow control clears the queues, so such a partition goes on *after* them; and with no
committed offset faust's `_new_offset` commits the first run of acked offsets, wherever it starts.
The dropped records are then never processed: the publisher kill test saw items neither posted
nor reported after a SIGKILL before the first commit.
"""

from __future__ import annotations

from faust.transport.drivers.aiokafka import Consumer as AIOKafkaDriverConsumer


class RewindingConsumer(AIOKafkaDriverConsumer):
    """Seeks never-committed stream partitions to their earliest offset after the normal seek."""

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
