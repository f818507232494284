"""The notifier service, wired: posts and directory events in → alert → e-mail / webhook → ForumAlertSent.

Duplicates on redelivery: Kafka redelivers what was processed but not yet committed (a crash, a
rebalance). The notifier keeps, per source partition, the offset of the last event it alerted about
in a faust Table (`alerted`; key `<topic>/<partition>`, 8 keys whatever the traffic — bounded,
unlike a set of event ids) and skips records at or below it. The mark is written after the alert is
sent and only queued to the changelog (faust), so a SIGKILL in that window can still repeat one
alert: at-least-once, by choice — a repeated alert is a nuisance, a lost one is a failure. An event
*republished* under a new id is a new event and is alerted again.

Nothing is silently dropped: with no transport configured the alert is logged (transport `log`);
when every configured transport fails, the alert is logged at WARNING, ops get a ServiceError per
transport, and no ForumAlertSent is emitted (the forum was not told).
"""

from __future__ import annotations

import logging
import uuid

import faust

from services.notifier.render import render
from services.notifier.transports import RetryPolicy, configured_transports, send_alert
from shared.envelope import CloudEvent, EventPayload, utcnow
from shared.events import FeedMoved, FeedStatusChanged, ForumAlertSent
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import DIRECTORY_EVENTS, FEED_HEALTH, FORUM_ALERTS, POSTS, TopicSpec

log = logging.getLogger(__name__)

SERVICE = "notifier"


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    """Build the notifier's faust app (nothing connects until the worker runs)."""
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    transports = configured_transports(settings)
    policy = RetryPolicy()
    runtime.heartbeat_detail["transports"] = ",".join(t.name for t in transports) or "log"
    if not transports:
        log.warning(
            "no forum transport configured (HERALD_SMTP_HOST + HERALD_FORUM_EMAIL_TO, "
            "or HERALD_FORUM_WEBHOOK_URL): alerts are only logged"
        )
    alerted = runtime.app.Table(
        "alerted",
        default=None,
        partitions=POSTS.partitions,
        key_type=str,
        help="<topic>/<partition> → offset of the last record alerted about (redelivery guard).",
    )

    async def alert_about(spec: TopicSpec, envelope: CloudEvent, payload: EventPayload) -> None:
        mark_key, offset = _position(spec)
        if mark_key is not None and offset is not None:
            done = alerted.get(mark_key)
            if done is not None and offset <= done:
                log.info("skipping %s %s: already alerted (offset %d)", envelope.type, envelope.id, offset)
                return
        alert = render(envelope, payload)
        used = await send_alert(alert, transports, policy, report=runtime.report_error)
        if used:
            sent = ForumAlertSent(
                alert_id=str(uuid.uuid4()),
                about_event_id=envelope.id,
                about_event_type=envelope.type,
                headline=alert.headline,
                transports=used,
                sent_at=utcnow(),
            )
            await runtime.publish(FORUM_ALERTS, envelope.id, sent)
        if mark_key is not None and offset is not None:
            alerted[mark_key] = offset

    @runtime.consumer(POSTS)
    async def on_post(envelope: CloudEvent, payload: EventPayload) -> None:
        await alert_about(POSTS, envelope, payload)

    @runtime.consumer(DIRECTORY_EVENTS)
    async def on_directory_event(envelope: CloudEvent, payload: EventPayload) -> None:
        await alert_about(DIRECTORY_EVENTS, envelope, payload)

    # Every poll's outcome is on this topic too; the forum hears only of broken and moved feeds.
    @runtime.consumer(FEED_HEALTH, accepts=(FeedStatusChanged, FeedMoved))
    async def on_feed_health(envelope: CloudEvent, payload: EventPayload) -> None:
        await alert_about(FEED_HEALTH, envelope, payload)

    return runtime


def _position(spec: TopicSpec) -> tuple[str | None, int | None]:
    event = faust.current_event()
    if event is None:
        return None, None
    return f"{spec.name}/{event.message.partition}", event.message.offset
