"""The notifier service, wired: posts, directory events and broken/moved feeds in → one ledger
entry per wanted (alert, target) → each target's lane delivers → ForumAlertSent per delivery.

Directory facts carry no names: a view of the compacted `herald.directory.staff`, followed on every
worker, gives the words (`staff.py` says how long a fact waits for its record) and the forum
members' addresses for an e-mail target with `to: forum_members`.

The consumer only decides and records: for every target that wants the event it renders the alert
as that target may see it (internal or not), and records a `pending` entry keyed by the alert id
(source event id + target + kind), waiting for the broker before the offset can be committed. A
redelivered or replayed event finds its entries and records nothing. Delivery, retries, give-up and
dead letters are the lanes' (`delivery.py`), one per target, started with the app. With no target
configured the alert is logged (and told on herald.forum.alerts with transport `log`).

A target with `digest:` hears what it wants in one message per window instead (`digest_book.py`);
one with `items:` hears of the items of some feeds, at once or as reminders before their date
(`reminders.py`): a ledger entry whose first try is the reminder's time. Every decision takes its
time from one clock (`clock.py`): the system's, or HERALD_NOTIFIER_CLOCK_FILE's.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import timedelta

import faust

from services.notifier import decide, digest, grouping, reminders
from services.notifier.clock import Clock, ClockFileError, FileClock, system_clock
from services.notifier.config import NotifierConfigError
from services.notifier.delivery import AlertMetrics, Lane
from services.notifier.digest_book import DigestBook
from services.notifier.directory_words import is_routine
from services.notifier.grouping import Join
from services.notifier.ledger import DeliveryEntry, DeliveryLedger, DeliveryState
from services.notifier.render import Alert, render
from services.notifier.staff import Known, StaffView
from services.notifier.targets import Target, configured_targets
from services.notifier.templating import DEFAULT_TEMPLATES, TEXT
from shared.compacted import SnapshotFollower
from shared.envelope import CloudEvent, EventPayload, utcnow
from shared.events import (
    FeedItemDiscovered,
    FeedItemUpdated,
    FeedMoved,
    FeedStatusChanged,
    ForumAlertSent,
    PostPublished,
    StaffAccountChangeRejected,
    StaffChanged,
    StaffErased,
)
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import (
    DIRECTORY_EVENTS,
    DIRECTORY_SNAPSHOT,
    FEED_HEALTH,
    FEED_ITEMS,
    FORUM_ALERTS,
    POSTS,
    TopicSpec,
)

log = logging.getLogger(__name__)

SERVICE = "notifier"


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    """Build the notifier's faust app (nothing connects until the worker runs). A bad targets
    file ends the process with one line naming HERALD_NOTIFIER_CONFIG, before anything starts."""
    caught_up = asyncio.Event()
    staff = StaffView(caught_up)
    try:
        targets = configured_targets(settings, forum_members=staff.forum_members)
        clock: Clock = (
            FileClock(settings.notifier.notifier_clock_file)
            if settings.notifier.notifier_clock_file
            else system_clock
        )
    except (NotifierConfigError, ClockFileError) as exc:
        sys.exit(f"herald notifier: {exc}")
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    ledger = DeliveryLedger(runtime.app, partitions=POSTS.partitions)
    metrics = AlertMetrics(runtime)
    lanes = {target.name: Lane(runtime, ledger, target, metrics=metrics, clock=clock) for target in targets}
    digests = DigestBook(runtime, ledger, targets, lanes, clock)
    routed = [target for target in targets if target.config.items is not None]
    runtime.heartbeat_detail["targets"] = ",".join(lanes) or "log"
    follower = SnapshotFollower(
        DIRECTORY_SNAPSHOT, staff, bootstrap, namespace=settings.topic_namespace, caught_up=caught_up
    )
    if not targets:
        log.warning(
            "no forum target configured (HERALD_NOTIFIER_CONFIG, or HERALD_SMTP_HOST + "
            "HERALD_FORUM_EMAIL_TO, or HERALD_FORUM_WEBHOOK_URL): alerts are only logged"
        )

    async def alert_about(
        spec: TopicSpec, envelope: CloudEvent, payload: EventPayload, known: Known | None = None
    ) -> None:
        if not targets:
            await _log_only(runtime, envelope, payload, known)
            return
        event = faust.current_event()
        partition = event.message.partition if event is not None else None
        raw_value = event.message.value.decode(errors="replace") if event is not None else ""
        now = clock()
        renderings = {
            internal: render(envelope, payload, internal=internal, known=known) for internal in (True, False)
        }
        for target in targets:
            alert = renderings[target.adapter.internal]
            if not decide.wanted(target.config, alert):
                continue
            if target.config.digest is not None:
                note = digest.note_for(target.name, alert, payload, envelope.time, target.adapter.templates)
                await digests.send(note)
                continue
            not_before = None
            if isinstance(payload, PostPublished) and target.group_published > 0:
                key = grouping.group_key(payload.item_id, target.name)
                group = ledger.get(key)
                join = grouping.joining(group, envelope.id)
                if join is Join.ALREADY:
                    continue
                if join is Join.JOIN:
                    assert group is not None
                    merged = grouping.joined(Alert.from_json(group.alert), alert, target.adapter.templates)
                    await ledger.record(key, group.with_alert(merged.to_json(), now))
                    continue
                if join is Join.OPEN:
                    not_before = now + timedelta(seconds=target.group_published)
                else:
                    key = decide.alert_id(envelope.id, target.name)
            else:
                key = decide.alert_id(envelope.id, target.name)
            if ledger.get(key) is not None:
                log.info("%s already has alert %s about %s", target.name, key, envelope.id)
                continue
            entry = DeliveryEntry.new(
                target=target.name,
                alert=alert.to_json(),
                partition=partition,
                now=now,
                source_topic=spec.name,
                source_key=envelope.subject,
                source_value=raw_value,
                not_before=not_before,
            )
            await ledger.record(key, entry)
            lanes[target.name].wake.set()

    @runtime.consumer(POSTS)
    async def on_post(envelope: CloudEvent, payload: EventPayload) -> None:
        await alert_about(POSTS, envelope, payload)

    # Named, so a directory event type added later is skipped until it has words, not dead-lettered.
    @runtime.consumer(DIRECTORY_EVENTS, accepts=(StaffChanged, StaffErased, StaffAccountChangeRejected))
    async def on_directory_event(envelope: CloudEvent, payload: EventPayload) -> None:
        known = None
        if isinstance(payload, StaffChanged) and is_routine(payload):
            return
        if isinstance(payload, StaffChanged):
            known = await staff.known_at(payload.staff_id, payload.version)
            if known is None:
                log.info(
                    "no record of %s at version %d: worded from the facts", payload.staff_id, payload.version
                )
        await alert_about(DIRECTORY_EVENTS, envelope, payload, known)

    # Every poll's outcome is on this topic too; the forum hears only of broken and moved feeds.
    @runtime.consumer(FEED_HEALTH, accepts=(FeedStatusChanged, FeedMoved))
    async def on_feed_health(envelope: CloudEvent, payload: EventPayload) -> None:
        await alert_about(FEED_HEALTH, envelope, payload)

    if routed:  # only targets with `items:` hear of feed items (the rest, of what was posted)
        install_item_routing(runtime, ledger, lanes, routed, clock)

    running: list[asyncio.Task[None]] = []  # held, so the lanes are not garbage-collected

    @runtime.app.task
    async def follow_staff() -> None:
        await follower.run()

    @runtime.app.task
    async def start_lanes() -> None:
        running.extend(asyncio.ensure_future(lane.run()) for lane in lanes.values())
        running.append(asyncio.ensure_future(digests.run()))

    return runtime


async def _log_only(
    runtime: ServiceRuntime, envelope: CloudEvent, payload: EventPayload, known: Known | None
) -> None:
    alert = render(envelope, payload, internal=False, known=known)  # a log is no internal target
    text = DEFAULT_TEMPLATES.body(TEXT, alert.kind, alert.facts)
    log.info("forum alert (log only): %s\n%s", alert.headline, text)
    sent = ForumAlertSent(
        alert_id=decide.alert_id(envelope.id, "log"),
        about_event_id=envelope.id,
        about_event_type=envelope.type,
        headline=alert.headline,
        transports=["log"],
        sent_at=utcnow(),
    )
    await runtime.publish(FORUM_ALERTS, envelope.id, sent)


def install_item_routing(
    runtime: ServiceRuntime,
    ledger: DeliveryLedger,
    lanes: dict[str, Lane],
    routed: list[Target],
    clock: Clock,
) -> None:
    """Items of the feeds a target asked for: one ledger entry per (item, target), due at once or
    at its reminder time; a changed item moves a reminder not yet sent."""

    @runtime.consumer(FEED_ITEMS, accepts=(FeedItemDiscovered, FeedItemUpdated))
    async def on_feed_item(envelope: CloudEvent, payload: FeedItemDiscovered | FeedItemUpdated) -> None:
        event = faust.current_event()
        for target in routed:
            items = target.config.items
            assert items is not None
            if payload.feed_id not in items.feeds:
                continue
            now = clock()
            planned = reminders.plan(
                envelope, payload, remind_before=items.remind_before, now=now, zone=target.zone
            )
            key = decide.alert_id(reminders.alert_source(payload.item_id), target.name, "item")
            entry = ledger.get(key)
            if planned is None:
                log.info("%s: item %s is dated in the past; no reminder", target.name, payload.item_id)
            elif entry is None:
                entry = DeliveryEntry.new(
                    target=target.name,
                    alert=planned.alert.to_json(),
                    partition=event.message.partition if event is not None else None,
                    now=now,
                    source_topic=FEED_ITEMS.name,
                    source_key=envelope.subject,
                    source_value=event.message.value.decode(errors="replace") if event is not None else "",
                    not_before=planned.send_at,
                )
                await ledger.record(key, entry)
            elif isinstance(payload, FeedItemUpdated) and entry.state is DeliveryState.PENDING:
                await ledger.record(key, entry.rescheduled(planned.alert.to_json(), planned.send_at, now))
            lanes[target.name].wake.set()
