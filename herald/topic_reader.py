"""Reading a topic from its beginning to its current end, for CLI listings of compacted state."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from herald.context import start_consumer
from shared.topics import TopicSpec


async def read_to_end(
    bootstrap: str, spec: TopicSpec, *, namespace: str = ""
) -> AsyncIterator[ConsumerRecord]:
    """Every record now on the topic, partition by partition in offset order; no consumer group."""
    name = namespace + spec.name
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=15000
    )
    await start_consumer(consumer, bootstrap)
    try:
        # The catalogue knows the partitions (and topics are created from it), so no metadata dance.
        assigned = [TopicPartition(name, partition) for partition in range(spec.partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    yield record
                    if record.offset + 1 >= ends[tp]:
                        remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
