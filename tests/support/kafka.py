"""Reading Herald events on a real broker from tests: deadlines and polling, no sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import CloudEvent
from shared.events import FeedSubscribed
from shared.ids import feed_id_for
from shared.producer import EventProducer
from shared.topics import FEEDS, TopicSpec


async def subscribe_feed(
    bootstrap: str, namespace: str, url: str, *, interval: int = 300, paused: bool = False
) -> str:
    """Subscribe to a feed as `herald feeds add` does (a FeedSubscribed on herald.feeds); its id."""
    feed_id = feed_id_for(url)
    subscription = FeedSubscribed(
        feed_id=feed_id, url=url, interval_seconds=interval, subscribed_at=datetime.now(UTC), paused=paused
    )
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        await producer.send(FEEDS, feed_id, subscription)
    return feed_id


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
    matched: list[CloudEvent] = []

    def take(record: ConsumerRecord) -> bool:
        event = CloudEvent.model_validate_json(record.value)
        if where(event):
            matched.append(event)
        return len(matched) >= count

    await _read(bootstrap, namespace + spec.name, take, timeout=timeout)
    return matched


async def raw_records(bootstrap: str, topic: str, *, count: int, timeout: float = 30.0) -> list:
    """The first `count` raw records of a topic (e.g. a dead-letter topic), or fewer at the deadline."""
    records: list[ConsumerRecord] = []

    def take(record: ConsumerRecord) -> bool:
        records.append(record)
        return len(records) >= count

    await _read(bootstrap, topic, take, timeout=timeout)
    return records


async def send_again(bootstrap: str, topic: str, record: ConsumerRecord) -> None:
    """The very same record (value, key, headers) once more, as a redelivery or a replay brings it."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, record.value, key=record.key, headers=list(record.headers))
    finally:
        await producer.stop()


async def _read(
    bootstrap: str, topic: str, take: Callable[[ConsumerRecord], bool], *, timeout: float
) -> None:
    """Every partition of `topic` from its beginning, assigned directly (no consumer group: a
    group's join and rebalance only add delay and flakiness to a test's read), until `take` says
    enough or the deadline passes."""
    deadline = time.monotonic() + timeout
    partitions = await _partition_count(bootstrap, topic, deadline)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, partition) for partition in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    if take(record):
                        return
    finally:
        await consumer.stop()


async def _partition_count(bootstrap: str, topic: str, deadline: float) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        while True:
            described = await admin.describe_topics([topic])
            if described and described[0]["partitions"]:
                return len(described[0]["partitions"])
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} does not exist")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


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
