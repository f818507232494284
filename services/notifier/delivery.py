"""Each target's lane: one task per target delivering that target's due ledger entries, oldest
first, so a slow or broken target never delays the others.

A lane wakes when the consumer records a new entry, or every `TICK_SECONDS`. It works only once the
app is ready and neither rebalancing nor recovering its tables, and only on entries of the
partitions this worker is assigned — so after a restart or a rebalance the lanes resume from the
ledger alone. A transient failure pauses the lane until that entry's next try (the target is
down: the later alerts wait behind it instead of hammering it); they keep their own first-try time,
so the give-up age counts from when each was read. Each try is counted in `herald_alerts_total`
(target, result: delivered, failed, given_up) and each delivery's latency from its source event in
`herald_alert_latency_seconds`. In the target's quiet hours an alert waits
in the ledger (its entry untouched) and goes out when they end, unless its severity is excepted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime

from services.notifier import decide
from services.notifier.adapters import DeliveryError
from services.notifier.ledger import DeliveryEntry, DeliveryLedger, DeliveryState
from services.notifier.render import Alert
from services.notifier.targets import Target
from shared.dead_letters import dead_letter_headers
from shared.events import ForumAlertSent
from shared.runtime import ServiceRuntime
from shared.topics import FORUM_ALERTS, POSTS, TopicSpec, dead_letter

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
WORKING = (DeliveryState.PENDING, DeliveryState.SENDING)
#: Alert latency buckets, seconds: from a prompt delivery to one after an hour of retries.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class AlertMetrics:
    """The lanes' metrics, made once on the runtime's registry and shared by every lane."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.alerts = runtime.counter(
            "herald_alerts", "Alert delivery tries by target and result.", ("target", "result")
        )
        self.latency = runtime.histogram(
            "herald_alert_latency_seconds",
            "Seconds from an alert's source event to its delivery, by target.",
            ("target",),
            buckets=LATENCY_BUCKETS,
        )


class Lane:
    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: DeliveryLedger,
        target: Target,
        *,
        metrics: AlertMetrics,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.runtime = runtime
        self.metrics = metrics
        self.ledger = ledger
        self.target = target
        self.clock = clock
        self.jitter = jitter
        self.wake = asyncio.Event()
        self.failing = False
        self._paused_until: datetime | None = None

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), TICK_SECONDS)
            except TimeoutError:
                pass
            self.wake.clear()
            try:
                await self.work()
            except Exception:  # a lane never dies: the ledger still holds the work
                log.exception("lane %s failed; going on", self.target.name)

    async def work(self) -> None:
        if not can_work(self.runtime):
            return
        now = self.clock()
        if self._paused_until is not None and now < self._paused_until:
            return
        self._paused_until = None
        for key, entry in self.due(now):
            if entry.state is DeliveryState.DELIVERED or entry.state is DeliveryState.DEAD:
                await self.tell(key, entry)
                continue
            severity = entry.alert.get("severity", "info")
            if decide.quiet_until(self.target.config, severity, now, self.target.zone) is not None:
                continue  # quiet hours: it waits, untouched, and goes when they end
            if not await self.attempt(key, entry):
                return

    def due(self, now: datetime) -> list[tuple[str, DeliveryEntry]]:
        held = assigned(self.runtime, POSTS)
        mine = [
            (key, entry)
            for key, entry in self.ledger.for_target(self.target.name)
            if (held is None or entry.partition is None or entry.partition in held)
            and (
                (entry.state in WORKING and datetime.fromisoformat(entry.next_at) <= now)
                or (entry.state not in WORKING and not entry.event_sent)
            )
        ]
        return sorted(mine, key=lambda pair: pair[1].first_at)

    async def attempt(self, key: str, entry: DeliveryEntry) -> bool:
        """One try; True when delivered (the lane goes on), False when the lane should pause."""
        adapter = self.target.adapter
        entry = self.ledger.get(key) or entry  # as it is now: a group may have grown since `due`
        entry = decide.resume(entry, idempotent=adapter.idempotent)
        alert = decide.as_sent(Alert.from_json(entry.alert), entry)
        intent = entry.sending(self.clock())
        await self.ledger.record(key, intent)
        try:
            await adapter.send(alert, key)
        except DeliveryError as exc:
            after = decide.after_failure(
                intent,
                failure=exc.failure,
                reason=exc.reason,
                retry_after=exc.retry_after,
                idempotent=adapter.idempotent,
                retry=self.target.retry,
                now=self.clock(),
                jitter=self.jitter,
            )
            await self.ledger.record(key, after)
            given_up = after.state is DeliveryState.DEAD
            self.metrics.alerts.labels(self.target.name, "given_up" if given_up else "failed").inc()
            if given_up:
                await self.tell(key, after)
                return True  # this one is over; the next may fare better (e.g. a refused address)
            log.warning(
                "%s: alert %s not delivered (%s); next try %s",
                self.target.name,
                key,
                exc.reason,
                after.next_at,
            )
            if not self.failing:
                self.failing = True
                await self.runtime.report_error(
                    f"forum_{adapter.kind}_failing", f"target {self.target.name}: {exc.reason}"
                )
            self._paused_until = datetime.fromisoformat(after.next_at)
            return False
        delivered_at = self.clock()
        done = intent.delivered(delivered_at)
        await self.ledger.record(key, done)
        self.metrics.alerts.labels(self.target.name, "delivered").inc()
        self.metrics.latency.labels(self.target.name).observe(decide.latency(alert, done, delivered_at))
        if self.failing:
            self.failing = False
            log.info("%s: delivering again", self.target.name)
        await self.tell(key, done)
        return True

    async def tell(self, key: str, entry: DeliveryEntry) -> None:
        """The result's event: ForumAlertSent when delivered; an ops error and a dead letter when dead."""
        alert = Alert.from_json(entry.alert)
        if entry.state is DeliveryState.DELIVERED:
            sent = ForumAlertSent(
                alert_id=key,
                about_event_id=alert.event_id,
                about_event_type=alert.event_type,
                headline=alert.headline,
                transports=[self.target.name],
                sent_at=datetime.fromisoformat(entry.delivered_at or entry.updated_at),
            )
            await self.runtime.publish(FORUM_ALERTS, alert.event_id, sent)
        else:
            reason = f"alert {key} about {alert.event_id} to {self.target.name}: {entry.last_error}"
            log.error("giving up: %s", reason)
            await self._dead_letter(entry, reason)
            await self.runtime.report_error("forum_alert_undelivered", reason)
        self.ledger.note(key, entry.told())

    async def _dead_letter(self, entry: DeliveryEntry, reason: str) -> None:
        headers = dead_letter_headers(reason, "notifier", entry.source_topic, target=entry.target)
        key = entry.source_key.encode() if entry.source_key is not None else None
        sent = await self.runtime.topic(dead_letter("notifier")).send(
            key=key, value=entry.source_value.encode(), headers=headers
        )
        await sent


def can_work(runtime: ServiceRuntime) -> bool:
    app = runtime.app
    return bool(
        runtime.ready and not getattr(app, "rebalancing", False) and not getattr(app, "in_recovery", False)
    )


def assigned(runtime: ServiceRuntime, spec: TopicSpec) -> set[int] | None:
    """The partitions of `spec` this worker holds (the notifier's source topics, its digest topic
    and its tables have the same count, and faust assigns the same numbers of each together)."""
    try:
        topic = runtime.settings.topic_namespace + spec.name
        return {tp.partition for tp in runtime.app.consumer.assignment() if tp.topic == topic}
    except Exception:
        return None
