"""`herald ops tail`: a live view of Herald for a person — every worker (stale after three missed
beats), its lag and throughput, feed health, posts held for a person, dead letters and recent
errors (`herald/ops_board.py` decides what is shown; this reads the topics into it)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console
from rich.live import Live

from herald import context
from herald.commands import dlq
from herald.ops_board import OpsBoard
from shared.envelope import EventDecodeError, decode
from shared.topics import FEED_HEALTH, OPS_ERRORS, OPS_HEARTBEAT, POSTS, SERVICES, TopicSpec, dead_letter

app = typer.Typer(help="Operations: what the services say about themselves.", no_args_is_help=True)
app.add_typer(dlq.app, name="dlq")
console = Console()

#: How far back each topic is read when the view starts (posts: all, for what is still held).
LOOKBACK: dict[str, timedelta | None] = {
    OPS_HEARTBEAT.name: timedelta(minutes=10),
    OPS_ERRORS.name: timedelta(hours=1),
    FEED_HEALTH.name: timedelta(hours=1),
    POSTS.name: None,
}
WATCHED: tuple[TopicSpec, ...] = (OPS_HEARTBEAT, OPS_ERRORS, FEED_HEALTH, POSTS)


@app.command()
def tail(
    seconds: float = typer.Option(0, "--seconds", min=0, help="Stop after this long (0: until Ctrl-C)."),
) -> None:
    """Live view: workers (status, last beat, lag, events/s, last error), feeds, held posts,
    dead letters, recent errors."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    try:
        asyncio.run(_follow(bootstrap, config.topic_namespace, seconds))
    except KeyboardInterrupt:
        pass


async def _follow(bootstrap: str, namespace: str, seconds: float) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await context.start_consumer(consumer, bootstrap)
    board = OpsBoard()
    accepted = {name: spec.accepts for spec in WATCHED for name in [namespace + spec.name]}
    deadline = time.monotonic() + seconds if seconds else None
    try:
        await _seek(consumer, namespace)
        next_count = 0.0
        with Live(board.render(datetime.now(UTC)), console=console, refresh_per_second=2) as live:
            while deadline is None or time.monotonic() < deadline:
                if time.monotonic() >= next_count:
                    board.dead_letters = await _dead_letter_counts(consumer, namespace)
                    next_count = time.monotonic() + 5
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        try:
                            envelope, payload = decode(record.value, accepted[tp.topic])
                        except EventDecodeError:
                            continue
                        board.apply(payload, envelope.time or datetime.now(UTC))
                live.update(board.render(datetime.now(UTC)))
    finally:
        await consumer.stop()


async def _seek(consumer: AIOKafkaConsumer, namespace: str) -> None:
    partitions = [  # each named, so the topic catalogue's check sees what the view reads
        *(TopicPartition(namespace + OPS_HEARTBEAT.name, p) for p in range(OPS_HEARTBEAT.partitions)),
        *(TopicPartition(namespace + OPS_ERRORS.name, p) for p in range(OPS_ERRORS.partitions)),
        *(TopicPartition(namespace + FEED_HEALTH.name, p) for p in range(FEED_HEALTH.partitions)),
        *(TopicPartition(namespace + POSTS.name, p) for p in range(POSTS.partitions)),
    ]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    now = datetime.now(UTC)
    for spec in WATCHED:
        lookback = LOOKBACK[spec.name]
        if lookback is None:
            continue
        mine = [tp for tp in partitions if tp.topic == namespace + spec.name]
        since = int((now - lookback).timestamp() * 1000)
        found = await consumer.offsets_for_times({tp: since for tp in mine})
        ends = await consumer.end_offsets(mine)
        for tp in mine:
            consumer.seek(tp, found[tp].offset if found.get(tp) else ends[tp])


async def _dead_letter_counts(consumer: AIOKafkaConsumer, namespace: str) -> dict[str, int]:
    """Records on each service's dead-letter topic (end minus start offsets: no reading)."""
    partitions = [TopicPartition(namespace + dead_letter(service).name, 0) for service in SERVICES]
    starts = await consumer.beginning_offsets(partitions)
    ends = await consumer.end_offsets(partitions)
    return {service: ends[tp] - starts[tp] for service, tp in zip(SERVICES, partitions, strict=True)}
