"""Routine reports sent as producer batches, not one producer call each.

feed_ingest reports every poll (FeedPolled on herald.ops.feed-health): thousands a second, fire and
forget. Through the producer's `send` each record costs ~25 µs of Python (faust's and aiokafka's
layers, a future and a callback per record); appended to its partition's batch it costs a few.

A report is held until `max_held` reports wait, `linger` seconds pass, or its owner flushes (when
it goes idle, at shutdown). The runtime flushes a topic's held reports before it sends anything
else to that topic (`lock` + `ship`), so the records of one key keep their order there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

log = logging.getLogger(__name__)


class Settle(Protocol):
    """What to tell when a report's batch is settled: counted on success, logged otherwise."""

    def count(self) -> None: ...


class _Report(NamedTuple):
    partition: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    settle: Settle


class ReportBatches:
    """Held reports per topic, shipped as one aiokafka batch per partition (`create_batch` and
    `send_batch`, aiokafka's own API for this)."""

    def __init__(
        self,
        producer: Callable[[], Any],
        *,
        linger: float = 0.05,
        max_held: int = 100,
        max_backlog: int = 10_000,
    ) -> None:
        """`producer()`: the running aiokafka producer (looked up when shipping: it starts after
        this is built). `max_backlog`: reports held per topic while a shipment waits (the broker
        is slow or away) beyond which new ones are dropped and counted, so memory stays bounded."""
        self._producer = producer
        self.linger = linger
        self.max_held = max_held
        self.max_backlog = max_backlog
        self._dropped: dict[str, int] = {}
        self._held: dict[str, list[_Report]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._shipping: dict[str, asyncio.Task[None]] = {}  # a flush asked for and not begun

    def holds(self, topic: str) -> bool:
        """Whether reports were ever held for `topic` (then every send to it goes after them)."""
        return topic in self._locks

    def lock(self, topic: str) -> asyncio.Lock:
        return self._locks.setdefault(topic, asyncio.Lock())

    def hold(
        self,
        topic: str,
        partition: int,
        key: bytes,
        value: bytes,
        headers: list[tuple[str, bytes]],
        settle: Settle,
    ) -> None:
        held = self._held.setdefault(topic, [])
        if len(held) >= self.max_backlog:
            self._dropped[topic] = self._dropped.get(topic, 0) + 1
            return
        held.append(_Report(partition, key, value, headers, settle))
        self.lock(topic)
        if len(held) >= self.max_held:
            self.flush_soon(topic)
        elif topic not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[topic] = loop.call_later(self.linger, self.flush_soon, topic)

    def flush_soon(self, topic: str | None = None) -> None:
        """Ship the held reports (of `topic`, or all) from a task of their own (one per topic)."""
        for name in [topic] if topic is not None else list(self._held):
            if self._held.get(name) and name not in self._shipping:
                self._shipping[name] = asyncio.ensure_future(self.flush(name))

    async def flush(self, topic: str | None = None) -> None:
        """Ship the held reports (of `topic`, or all) to the producer."""
        for name in [topic] if topic is not None else list(self._held):
            async with self.lock(name):
                await self.ship(name)

    async def ship(self, topic: str) -> None:
        """Hand `topic`'s held reports to the producer, in order; the caller holds `lock(topic)`.
        Never raises: a report that cannot be handed over is logged (it is routine, and the
        next one follows)."""
        timer = self._timers.pop(topic, None)
        if timer is not None:
            timer.cancel()
        self._shipping.pop(topic, None)  # reports held from now on need another flush
        dropped = self._dropped.pop(topic, 0)
        if dropped:
            log.error("dropped %d reports to %s: over %d were waiting", dropped, topic, self.max_backlog)
        held = self._held.pop(topic, None)
        if not held:
            return
        producer = self._producer()
        if producer is None:
            log.error("could not publish %d reports to %s: the producer is not running", len(held), topic)
            return
        by_partition: dict[int, list[_Report]] = {}
        for report in held:
            by_partition.setdefault(report.partition, []).append(report)
        for partition, reports in by_partition.items():
            batch, settles = producer.create_batch(), []
            for report in reports:
                if not _append(batch, report):
                    if settles:  # full: send it, start the next
                        await self._send(producer, batch, topic, partition, settles)
                        batch, settles = producer.create_batch(), []
                    if not _append(batch, report):
                        log.error("a report for %s is larger than a producer batch; dropped", topic)
                        continue
                settles.append(report.settle)
            if settles:
                await self._send(producer, batch, topic, partition, settles)

    @staticmethod
    async def _send(producer: Any, batch: Any, topic: str, partition: int, settles: list[Settle]) -> None:
        try:
            sent = await producer.send_batch(batch, topic, partition=partition)
        except Exception as exc:  # the producer refused it (closed, timed out waiting for room)
            log.error("could not publish %d reports to %s: %s", len(settles), topic, exc)
            return

        def settled(done: asyncio.Future[Any]) -> None:
            if done.cancelled():
                return
            error = done.exception()
            if error is not None:
                log.error("could not publish %d reports to %s: %s", len(settles), topic, error)
                return
            for settle in settles:
                settle.count()

        sent.add_done_callback(settled)


def _append(batch: Any, report: _Report) -> bool:
    """Add to an aiokafka `BatchBuilder`; False when it is full."""
    added = batch.append(key=report.key, value=report.value, timestamp=None, headers=report.headers)
    return added is not None
