"""What every Herald service is made of: a faust app with Herald's defaults, validated consumers
that dead-letter what they cannot read, a producer of enveloped events that waits for the
broker's acknowledgement, heartbeats, `/health` and `/metrics`, and a watchdog that takes a
worker whose table recovery has stalled out of service (`shared.recovery_watchdog`).

Nothing connects at import: `ServiceRuntime(...)` builds the app; `shared.worker_main` runs it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import EventT
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from shared import __version__, health
from shared.consumer import RewindingConsumer
from shared.dead_letters import dead_letter_headers
from shared.envelope import (
    CLOUDEVENTS_CONTENT_TYPE,
    CloudEvent,
    EventDecodeError,
    EventPayload,
    decode,
    encode,
)
from shared.events import ServiceError, ServiceHeartbeat
from shared.recovery_watchdog import STALL_ERROR_KIND, RecoverySample, RecoveryStalled, StallDecider
from shared.report_batches import ReportBatches
from shared.settings import HeraldSettings
from shared.topics import OPS_ERRORS, OPS_HEARTBEAT, TopicSpec, dead_letter
from shared.vitals import LagCollector, Vitals

log = logging.getLogger(__name__)

P = TypeVar("P", bound=EventPayload)
Handler = Callable[[CloudEvent, Any], Awaitable[None]]
#: A batch consumer's handler: the event, its payload and its record's partition.
PartitionHandler = Callable[[CloudEvent, Any, int], Awaitable[None]]

#: Latency buckets in seconds, from a local call (5 ms) to a slow outside one (a minute).
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServiceRuntime:
    """One service's faust app plus the Herald conventions around it."""

    def __init__(
        self,
        service: str,
        settings: HeraldSettings,
        *,
        bootstrap_servers: str,
        producer_linger: float = 0.0,
        producer_batch_bytes: int = 16384,
    ) -> None:
        """`producer_linger`: seconds a produce batch may wait for more records. Fewer, fuller
        requests cost the service and the broker less CPU, but every acknowledged write waits
        that long: worth it where many writes are in flight at once (feed_ingest), not where
        one write waits for the last (the publisher's intent → call → result).
        `producer_batch_bytes`: the most one partition's batch holds (one batch per partition
        goes in a request; aiokafka encodes each request in Python, so where thousands of
        records a second flow, bigger batches save CPU without waiting longer)."""
        self.service = service
        self.settings = settings
        self.source = f"/herald/{service}"
        self.instance = settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"
        self.started_at = datetime.now(UTC)
        self.ready = False
        self.heartbeat_detail: dict[str, str] = {}
        datadir = settings.state_dir / "faust" / service
        datadir.parent.mkdir(parents=True, exist_ok=True)  # faust makes only the last level
        self.app = faust.App(
            f"{settings.topic_namespace}herald-{service}",
            broker=[f"kafka://{server}" for server in bootstrap_servers.split(",")],
            store="memory://",
            autodiscover=False,
            topic_replication_factor=1,
            topic_partitions=4,
            table_standby_replicas=0,
            web_port=settings.service_port(service),
            web_bind=settings.web_bind,
            web_host=settings.web_bind,
            broker_session_timeout=10.0,
            broker_heartbeat_interval=2.0,
            consumer_auto_offset_reset="earliest",
            producer_acks=-1,
            producer_linger=producer_linger,
            producer_max_batch_size=producer_batch_bytes,
            datadir=str(datadir),
        )
        self.app.transport.Consumer = RewindingConsumer  # type: ignore[misc]  # see shared.consumer
        self.metrics = CollectorRegistry()
        # faust's own sensors (offsets read, committed and at the end, rebalances, sends) on
        # Herald's registry, so the one /metrics page has them.
        self.app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(self.metrics, "faust"))
        self.limits = health.Limits(
            loop_stall_seconds=settings.health_loop_stall_seconds,
            consumer_stall_seconds=settings.health_consumer_stall_seconds,
            ready_max_lag=settings.ready_max_lag,
        )
        self.vitals = Vitals()
        self.metrics.register(LagCollector(lambda: self.health_sample().lag))
        self.last_error: ServiceError | None = None
        self.consumed = Counter(
            "herald_events_consumed",
            "Records read, by topic, event type (`(unreadable)` when invalid) and outcome.",
            ["topic", "type", "outcome"],
            registry=self.metrics,
        )
        self.published = Counter(
            "herald_events_published",
            "Events sent, by topic and type.",
            ["topic", "type"],
            registry=self.metrics,
        )
        self._topics: dict[str, faust.TopicT] = {}
        self._routes: dict[tuple[str, type], _Route] = {}  # by (catalogue name, payload type)
        self._reports = ReportBatches(self._aiokafka_producer)
        self._install_pages()
        self._stall = StallDecider(settings.recovery_stall_seconds)

    # --- service metrics --------------------------------------------------------------------
    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter of the service's own on the one registry `/metrics` serves."""
        return Counter(name, documentation, list(labels), registry=self.metrics)

    def histogram(
        self, name: str, documentation: str, labels: Sequence[str] = (), *, buckets: Sequence[float] = SECONDS
    ) -> Histogram:
        """A histogram (seconds unless told) on the one registry `/metrics` serves."""
        return Histogram(name, documentation, list(labels), registry=self.metrics, buckets=buckets)

    # --- topics -----------------------------------------------------------------------------
    def topic(self, spec: TopicSpec) -> faust.TopicT:
        """The faust topic for a catalogue entry; bytes in and out (Herald does its own decoding,
        so an unreadable record is dead-lettered instead of crashing the agent)."""
        if spec.name not in self._topics:
            self._topics[spec.name] = self.app.topic(
                self.settings.topic_namespace + spec.name,
                key_type=bytes,
                value_type=bytes,
                key_serializer="raw",
                value_serializer="raw",
                partitions=spec.partitions,
            )
        return self._topics[spec.name]

    def changelog_topics(self) -> list[TopicSpec]:
        """The changelog topic of every table this service declared, as faust will name them."""
        return [
            TopicSpec(
                name=table.changelog_topic.get_topic_name(),
                key="table key",
                description=f"Changelog of {self.service}'s `{table.name}` table.",
                partitions=table.partitions or self.app.conf.topic_partitions,
                cleanup_policy="compact",
                retention_ms=None,
                public=False,
            )
            for table in self.app.tables.values()
        ]

    # --- producing --------------------------------------------------------------------------
    async def publish(self, spec: TopicSpec, key: str, payload: EventPayload) -> None:
        """Send an event and wait until the broker has it (acks=all)."""
        await (await self.send(spec, key, payload))

    async def publish_nowait(self, spec: TopicSpec, key: str, payload: EventPayload) -> None:
        """Send a routine report without waiting for the broker: for events whose loss costs
        nothing durable (a poll's FeedPolled: the state it describes is stored, and the next poll
        reports again). Held briefly and sent in batches (`shared.report_batches`); anything sent
        to the same topic afterwards still lands after it. The owner calls `flush_reports` before
        it stops; a failure is logged."""
        route = self._route(spec, type(payload))
        key_bytes = key.encode()
        self._reports.hold(
            route.topic,
            spec.partition_for(key_bytes),
            key_bytes,
            encode(payload, source=self.source),
            route.headers,
            route,
        )

    def flush_reports_soon(self) -> None:
        """Send the held reports now instead of after their linger (e.g. the caller is idle)."""
        self._reports.flush_soon()

    async def flush_reports(self) -> None:
        """Hand every held report to the producer (before it stops)."""
        await self._reports.flush()

    async def send(self, spec: TopicSpec, key: str, payload: EventPayload) -> asyncio.Future[Any]:
        """Hand an event to the producer; the future resolves when the broker has it (acks=all).

        For many events at once (a poll's new items): send them all, then wait for all the
        futures, with no task per event. Straight to the app's producer (the key decides the
        partition, as for a faust topic): Herald's records are bytes already, and faust's
        topic/channel layers around each send cost more CPU than the send itself at
        feed_ingest's thousands of events a second. The record is built by `encode` (no envelope
        model); its headers and its metric child are made once per event type."""
        route = self._route(spec, type(payload))
        if not self._reports.holds(route.topic):
            return await self._produce(spec, route, key, payload)
        async with self._reports.lock(route.topic):  # after the reports held for this topic
            await self._reports.ship(route.topic)
            return await self._produce(spec, route, key, payload)

    def _route(self, spec: TopicSpec, kind: type[EventPayload]) -> _Route:
        route = self._routes.get((spec.name, kind))
        if route is None:
            if spec.payloads and kind not in spec.payloads:
                raise TypeError(f"{kind.__name__} does not belong on {spec.name}")
            route = self._routes[(spec.name, kind)] = _Route(
                self.settings.topic_namespace + spec.name, spec.name, kind.event_type, self.published
            )
        return route

    async def _produce(
        self, spec: TopicSpec, route: _Route, key: str, payload: EventPayload
    ) -> asyncio.Future[Any]:
        key_bytes = key.encode()
        sent = await self.app.producer.send(
            route.topic,
            key_bytes,
            encode(payload, source=self.source),
            spec.partition_for(key_bytes),  # what the producer's partitioner says, remembered
            None,
            route.headers,
        )
        sent.add_done_callback(route.settle)
        return sent

    def _aiokafka_producer(self) -> Any:
        """The running aiokafka producer behind faust's (None before it starts or after it
        stops): `shared.report_batches` uses its batch API, which faust does not wrap."""
        return getattr(self.app.producer, "_producer", None)

    async def report_error(self, kind: str, message: str, event: EventT | None = None) -> None:
        """Tell ops (herald.ops.errors) about a problem; never raises, never includes secrets."""
        try:
            msg = event.message if event is not None else None
            error = ServiceError(
                service=self.service,
                instance=self.instance,
                kind=kind,
                message=message[:1000],
                topic=msg.topic if msg else None,
                partition=msg.partition if msg else None,
                offset=msg.offset if msg else None,
                occurred_at=datetime.now(UTC),
            )
            self.last_error = error
            await self.publish(OPS_ERRORS, self.service, error)
        except Exception:  # reporting must not take the consumer down
            log.exception("could not publish ServiceError %s: %s", kind, message)

    async def dead_letter(self, event: EventT, reason: str) -> None:
        """Park a record we cannot process on this service's DLQ, unchanged, with why and whence."""
        msg = event.message
        original = msg.headers or []
        headers = list(original.items() if isinstance(original, Mapping) else original)
        headers += dead_letter_headers(
            reason, self.service, msg.topic, partition=msg.partition, offset=msg.offset
        )
        delay = 0.5
        while True:  # a record is never dropped: if Kafka can't take it now, wait and try again
            try:
                pending = await self.topic(dead_letter(self.service)).send(
                    key=msg.key, value=msg.value, headers=headers
                )
                await pending
                break
            except Exception as exc:
                log.error(
                    "cannot dead-letter %s[%s]@%s yet (%s); retrying",
                    msg.topic,
                    msg.partition,
                    msg.offset,
                    exc,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        log.warning("dead-lettered %s[%s]@%s: %s", msg.topic, msg.partition, msg.offset, reason)
        await self.report_error(
            "dead_lettered", f"{msg.topic}[{msg.partition}]@{msg.offset}: {reason}", event
        )

    # --- consuming --------------------------------------------------------------------------
    def consumer(
        self, spec: TopicSpec, *, accepts: tuple[type[EventPayload], ...] | None = None
    ) -> Callable[[Handler], Handler]:
        """Decorator: run `handler(envelope, payload)` for each valid event on `spec`'s topic.

        `accepts` narrows which of the topic's event types this handler wants; the topic's other
        catalogued types are skipped (they are valid, just not this consumer's business). Records
        that are not valid events of the topic go to the dead-letter topic and the agent goes on. A
        handler that raises is dead-lettered too (faust would otherwise ack the event and restart the
        agent, losing it silently). Concurrency stays 1: agents with outside effects must not commit
        past an event still in flight (faust #606).
        """
        wanted = tuple(accepts or spec.payloads)

        def decorator(handler: Handler) -> Handler:
            async def agent(stream: faust.StreamT) -> None:
                async for event in stream.events():
                    await self._dispatch(spec, wanted, event, handler)

            agent.__name__ = handler.__name__
            agent.__qualname__ = f"{self.service}.{handler.__name__}"
            self.app.agent(self.topic(spec), name=f"herald.{self.service}.{handler.__name__}")(agent)
            return handler

        return decorator

    def batch_consumer(
        self,
        spec: TopicSpec,
        *,
        accepts: tuple[type[EventPayload], ...] | None = None,
        batch: int = 64,
        within: float = 0.005,
    ) -> Callable[[PartitionHandler], PartitionHandler]:
        """Like `consumer`, for a handler whose each call waits on the broker (a durable write):
        up to `batch` records (or what came within `within` seconds) are handled at once, one
        task per record key — a key's records still one after another, in order — and faust acks
        the batch only when every handler of it has returned (`Stream.take_events`), so no offset
        moves past a record still in hand. The handler is given the record's partition."""
        wanted = tuple(accepts or spec.payloads)

        def decorator(handler: PartitionHandler) -> PartitionHandler:
            async def agent(stream: faust.StreamT) -> None:
                async for events in stream.take_events(batch, within):
                    by_key: dict[Any, list[EventT]] = {}
                    for event in events:
                        by_key.setdefault(event.message.key, []).append(event)

                    async def in_order(chain: list[EventT]) -> None:
                        for event in chain:
                            bound = _with_partition(handler, event.message.partition)
                            await self._dispatch(spec, wanted, event, bound)

                    await asyncio.gather(*(in_order(chain) for chain in by_key.values()))

            agent.__name__ = handler.__name__
            agent.__qualname__ = f"{self.service}.{handler.__name__}"
            self.app.agent(self.topic(spec), name=f"herald.{self.service}.{handler.__name__}")(agent)
            return handler

        return decorator

    async def _dispatch(
        self, spec: TopicSpec, wanted: tuple[type[EventPayload], ...], event: EventT, handler: Handler
    ) -> None:
        try:
            envelope, payload = decode(event.value, spec.accepts)
        except EventDecodeError as exc:
            self.consumed.labels(spec.name, "(unreadable)", "invalid").inc()
            await self.dead_letter(event, exc.reason)
            return
        if not isinstance(payload, wanted):
            self.consumed.labels(spec.name, envelope.type, "skipped").inc()
            return
        try:
            await handler(envelope, payload)
        except Exception as exc:
            self.consumed.labels(spec.name, envelope.type, "failed").inc()
            log.exception("handler failed for %s %s", envelope.type, envelope.id)
            await self.dead_letter(event, f"handler error: {type(exc).__name__}: {exc}")
            return
        self.consumed.labels(spec.name, envelope.type, "ok").inc()

    # --- health, metrics, heartbeats -----------------------------------------------------------
    def _install_pages(self) -> None:
        runtime = self

        @self.app.page("/health")
        async def alive(web: Any, request: Any) -> Any:
            verdict = health.alive(runtime.health_sample(), runtime.limits)
            return web.json(runtime._status_body(alive=verdict), status=200 if verdict.ok else 503)

        @self.app.page("/ready")
        async def ready(web: Any, request: Any) -> Any:
            verdict = health.ready(runtime.health_sample(), runtime.limits)
            return web.json(runtime._status_body(ready=verdict), status=200 if verdict.ok else 503)

        @self.app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            return web.bytes(generate_latest(runtime.metrics), content_type="text/plain; version=0.0.4")

    async def beat(self) -> None:
        """From the worker's first start until it stops: tick every second (the loop's liveness)
        and send a heartbeat every interval with the status it is in — the first at once, so a
        worker says "starting" before its first rebalance and recovery."""
        interval = self.settings.heartbeat_interval_seconds
        next_beat = 0.0
        while not self.vitals.stopping:
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + interval
                await self.send_heartbeat(self.status)
            expected = time.monotonic() + 1.0
            await asyncio.sleep(1.0)
            self.vitals.tick(expected)

    def health_sample(self) -> health.Sample:
        return self.vitals.sample(self.app, started=self.ready)

    def _status_body(self, **verdicts: health.Verdict) -> dict[str, Any]:
        sample = self.health_sample()
        return {
            "service": self.service,
            "instance": self.instance,
            "status": self.status,
            "version": __version__,
            "consumer_lag": health.total_lag(sample.lag),
            "partitions": sample.assigned,
            **{name: verdict.to_json() for name, verdict in verdicts.items()},
            **self.heartbeat_detail,
        }

    @property
    def status(self) -> str:
        return "stopping" if self.vitals.stopping else "ready" if self.ready else "starting"

    async def watch_recovery(self) -> None:
        """Sample the table recovery for as long as the worker runs, and act on a stall (see
        `shared.recovery_watchdog`). Started by the worker itself: faust starts app timers only
        after the first recovery, which may be the one that stalls."""
        if not self.app.tables:
            return  # nothing to recover
        interval = min(1.0, self._stall.stall_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            await self._check_recovery(time.monotonic())

    async def _check_recovery(self, now: float) -> None:
        """One look at the recovery: a stalled one is reported and `RecoveryStalled` raised."""
        recovery = self.app.tables.recovery
        remaining = recovery.active_remaining()
        sample = RecoverySample(recovery.in_recovery, sum(remaining.values()))
        if not self._stall.stalled(sample, now):
            return
        behind = ", ".join(f"{tp.topic}[{tp.partition}] {n}" for tp, n in sorted(remaining.items()) if n)
        stalled = (
            f"table recovery read no changelog record for {self._stall.stall_seconds:g}s "
            f"({sample.remaining} still to read: {behind or 'none'})"
        )
        log.critical("%s; exiting so the worker is started again", stalled)
        await self.report_error(STALL_ERROR_KIND, f"{stalled}; worker exiting to be restarted")
        raise RecoveryStalled(stalled)  # crashes the worker: it exits non-zero

    async def send_heartbeat(self, status: str) -> None:
        sample = self.health_sample()
        error = self.last_error
        try:
            await self.publish(
                OPS_HEARTBEAT,
                self.service,
                ServiceHeartbeat(
                    service=self.service,
                    instance=self.instance,
                    status=status,  # type: ignore[arg-type]
                    started_at=self.started_at,
                    uptime_seconds=(datetime.now(UTC) - self.started_at).total_seconds(),
                    version=__version__,
                    detail=self.heartbeat_detail,
                    interval_seconds=self.settings.heartbeat_interval_seconds,
                    consumer_lag=health.total_lag(sample.lag) if sample.lag else None,
                    lag=sample.lag,
                    events_handled=self._handled(),
                    last_error=f"{error.kind}: {error.message}"[:300] if error else None,
                    last_error_at=error.occurred_at if error else None,
                ),
            )
        except Exception:
            log.exception("heartbeat not sent")

    def _handled(self) -> int:
        return int(
            sum(
                sample.value
                for metric in self.consumed.collect()
                for sample in metric.samples
                if sample.name.endswith("_total") and sample.labels.get("outcome") == "ok"
            )
        )

    async def announce_stopping(self) -> None:
        """The last heartbeat: the worker is stopping (bounded, so a gone broker cannot hold the
        stop up)."""
        self.vitals.stopping = True
        try:
            await asyncio.wait_for(self.send_heartbeat("stopping"), timeout=3.0)
        except Exception:
            log.warning("stopping heartbeat not sent")

    async def mark_ready(self) -> None:
        self.ready = True
        log.info("%s ready (instance %s)", self.service, self.instance)
        await self.send_heartbeat("ready")


class _Route:
    """What every record of one event type on one topic shares: the full topic name, the record
    headers and the metric child, made once."""

    __slots__ = ("topic", "headers", "_counter")

    def __init__(self, topic: str, name: str, event_type: str, published: Counter) -> None:
        self.topic = topic
        self.headers = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()), ("ce_type", event_type.encode())]
        self._counter = published.labels(name, event_type)

    def count(self) -> None:
        """One more record acknowledged."""
        self._counter.inc()

    def settle(self, done: asyncio.Future[Any]) -> None:
        """A sent record's acknowledgement callback: counted (a failure is the awaiting caller's)."""
        if not done.cancelled() and done.exception() is None:
            self.count()


def _with_partition(handler: PartitionHandler, partition: int) -> Handler:
    async def bound(envelope: CloudEvent, payload: Any) -> None:
        await handler(envelope, payload, partition)

    return bound


def current_partition() -> int | None:
    """The partition of the record a faust handler is handling now; None outside one."""
    event = faust.current_event()
    return event.message.partition if event is not None else None
