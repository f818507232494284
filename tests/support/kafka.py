"""Reading and writing Herald events on a real broker from tests: deadlines and polling, no sleeps."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer

from shared.envelope import CloudEvent
from shared.topics import TopicSpec


async def collect_events(
    bootstrap: str,
    spec: TopicSpec,
    *,
    namespace: str = "",
    count: int = 1,
    where: Callable[[CloudEvent], bool] = lambda event: True,
    timeout: float = 30.0,
) -> list[CloudEvent]:
    """Read `spec`'s topic from the beginning until `count` events match `where` or the deadline.

    Returns what matched (possibly fewer than `count` at the deadline: the caller asserts)."""
    consumer = AIOKafkaConsumer(
        namespace + spec.name,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    matched: list[CloudEvent] = []
    deadline = time.monotonic() + timeout
    try:
        while len(matched) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    event = CloudEvent.model_validate_json(record.value)
                    if where(event):
                        matched.append(event)
    finally:
        await consumer.stop()
    return matched


async def raw_records(bootstrap: str, topic: str, *, count: int, timeout: float = 30.0) -> list:
    """The first `count` raw records of a topic (e.g. a dead-letter topic), or fewer at the deadline."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex}", auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def wait_until(
    predicate: Callable[[], object], *, timeout: float = 30.0, interval: float = 0.1
) -> object:
    """Poll `predicate` (sync or async) until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
