"""Held reports (`shared.report_batches`) through a real aiokafka producer and broker: every report
arrives once, each key's records keep their order around direct sends to the same topic, each
acknowledged report is counted, and the linger and the batch-size limits each send on their own."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer

from shared.kafka_admin import ensure_topics
from shared.report_batches import ReportBatches
from shared.topics import FEED_HEALTH
from tests.support.kafka import raw_records, wait_until

pytestmark = pytest.mark.integration

KEYS = [f"feed-{n}".encode() for n in range(7)]


class Tally:
    def __init__(self) -> None:
        self.counted = 0

    def count(self) -> None:
        self.counted += 1


def record(key: bytes, sequence: int) -> bytes:
    return json.dumps({"key": key.decode(), "sequence": sequence}).encode()


async def producer_for(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=10
    )
    await producer.start()
    return producer


async def test_reports_arrive_once_in_order_per_key_around_direct_sends(kafka_bootstrap: str, namespace: str):
    await ensure_topics(kafka_bootstrap, [FEED_HEALTH], namespace=namespace)
    topic = namespace + FEED_HEALTH.name
    producer = await producer_for(kafka_bootstrap)
    batches = ReportBatches(lambda: producer, linger=0.02, max_held=25)
    tally = Tally()
    sequence = {key: 0 for key in KEYS}
    direct = []
    try:
        for n in range(400):
            key = KEYS[n % len(KEYS)]
            sequence[key] += 1
            batches.hold(topic, FEED_HEALTH.partition_for(key), key, record(key, sequence[key]), [], tally)
            if n % 37 == 0:  # as the runtime sends anything else to the topic: after the held ones
                sequence[key] += 1
                async with batches.lock(topic):
                    await batches.ship(topic)
                    partition = FEED_HEALTH.partition_for(key)
                    value = record(key, sequence[key])
                    direct.append(await producer.send(topic, value, key=key, partition=partition))
            if n % 50 == 0:
                await asyncio.sleep(0.03)  # let the linger fire now and then
        await batches.flush()
        await asyncio.gather(*direct)
        expected = sum(sequence.values())
        records = await raw_records(kafka_bootstrap, topic, count=expected, timeout=30)
        await wait_until(lambda: tally.counted == 400, timeout=10)
    finally:
        await producer.stop()
    assert len(records) == expected
    seen: dict[str, list[int]] = {}
    for each in sorted(records, key=lambda r: (r.partition, r.offset)):
        body = json.loads(each.value)
        assert each.key.decode() == body["key"]
        assert each.partition == FEED_HEALTH.partition_for(each.key)
        seen.setdefault(body["key"], []).append(body["sequence"])
    for key in KEYS:  # every record once, in the order it was handed over
        assert seen[key.decode()] == list(range(1, sequence[key] + 1))


async def test_a_single_report_goes_after_the_linger(kafka_bootstrap: str, namespace: str):
    await ensure_topics(kafka_bootstrap, [FEED_HEALTH], namespace=namespace)
    topic = namespace + FEED_HEALTH.name
    producer = await producer_for(kafka_bootstrap)
    tally = Tally()
    try:
        ReportBatches(lambda: producer, linger=0.05).hold(
            topic, FEED_HEALTH.partition_for(KEYS[0]), KEYS[0], record(KEYS[0], 1), [], tally
        )
        await wait_until(lambda: tally.counted == 1, timeout=10)  # nobody flushed it
    finally:
        await producer.stop()
    assert [r.value for r in await raw_records(kafka_bootstrap, topic, count=1)] == [record(KEYS[0], 1)]


async def test_enough_held_reports_go_without_waiting_for_the_linger(kafka_bootstrap: str, namespace: str):
    await ensure_topics(kafka_bootstrap, [FEED_HEALTH], namespace=namespace)
    topic = namespace + FEED_HEALTH.name
    producer = await producer_for(kafka_bootstrap)
    tally = Tally()
    batches = ReportBatches(lambda: producer, linger=3600, max_held=10)
    try:
        for n in range(10):
            batches.hold(topic, FEED_HEALTH.partition_for(KEYS[1]), KEYS[1], record(KEYS[1], n), [], tally)
        await wait_until(lambda: tally.counted == 10, timeout=10)
    finally:
        await producer.stop()
