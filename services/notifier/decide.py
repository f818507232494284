"""What to send to whom, and what to do after each attempt. Pure: the clock and the jitter source
are passed in, refusals are data.

- `alert_id`: derived from the cause (source event id, target, alert kind), so a redelivered or
  replayed event maps to the entry it already has and is never alerted twice.
- `wanted`: whether a target wants an alert (event kinds, channels, feeds, lowest severity); a
  target for feed items only (`items:`, no `wants:`) wants none.
- `after_failure`: capped exponential backoff with jitter, `Retry-After` honoured, until the give-up
  age; permanent failures give up at once. An ambiguous failure on a target without idempotency
  marks the entry `maybe_sent`, so the re-send says it may be a repeat (docs/adr/0009).
- `resume`: an entry found `sending` (a stop during the call) is an ambiguous failure.
- `quiet_until`: when a target's quiet hours hold an alert back (it waits in the ledger).
- `latency`: how long an alert took, from its source event to its delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.notifier.config import SEVERITIES, RetryConfig, TargetConfig
from services.notifier.ledger import DeliveryEntry, DeliveryState
from services.notifier.render import Alert
from shared.backoff import equal_jitter
from shared.localtime import quiet_window_end
from shared.topics import FEED_ITEMS

#: Namespace of alert ids (uuid5): fixed forever, or every past alert id changes.
ALERT_NAMESPACE = uuid.UUID("6f6e1b8e-3d0c-5b8a-9a59-3c1d4e2f0a17")
#: The longest `Retry-After` honoured as given; longer is capped (the give-up age still applies).
MAX_RETRY_AFTER = 3600.0


def alert_id(source_event_id: str, target: str, kind: str = "event") -> str:
    return str(uuid.uuid5(ALERT_NAMESPACE, f"{source_event_id}|{target}|{kind}"))


def wanted(target: TargetConfig, alert: Alert) -> bool:
    """Whether a target wants an event's alert. A target for feed items (`items:`) without a
    `wants:` of its own hears only its items."""
    if target.items is not None and "wants" not in target.model_fields_set:
        return False
    wants = target.wants
    if wants.kinds and alert.event_type not in wants.kinds:
        return False
    if wants.channels and alert.channel not in wants.channels:
        return False
    if wants.feeds and alert.feed_id not in wants.feeds:
        return False
    return SEVERITIES.index(alert.severity) >= SEVERITIES.index(wants.severity)  # type: ignore[arg-type]


def backoff(attempts: int, retry: RetryConfig, jitter: Callable[[], float]) -> float:
    """Seconds before the next try after `attempts` failed ones: first_delay · 2^(n-1), capped, then
    scaled by a jitter factor in [0.5, 1) ("equal jitter"), so a recovering target is not hit by
    every notifier at once."""
    return equal_jitter(attempts, first=retry.first_delay, cap=retry.max_delay, jitter=jitter())


def after_failure(
    entry: DeliveryEntry,
    *,
    failure: str,
    reason: str,
    retry_after: float | None,
    idempotent: bool,
    retry: RetryConfig,
    now: datetime,
    jitter: Callable[[], float],
) -> DeliveryEntry:
    """The entry after a failed attempt: pending with its next time, or dead."""
    if failure == "permanent":
        return entry.dead(reason, now)
    first = datetime.fromisoformat(entry.first_at)
    give_up_at = first + timedelta(seconds=retry.give_up_after)
    delay = backoff(entry.attempts, retry, jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    next_at = now + timedelta(seconds=delay)
    if next_at > give_up_at:
        return entry.dead(f"{reason}; gave up after {retry.give_up_after:.0f}s", now)
    maybe_sent = entry.maybe_sent or (failure == "ambiguous" and not idempotent)
    return entry.retry_at(next_at, reason, maybe_sent=maybe_sent)


def resume(entry: DeliveryEntry, *, idempotent: bool) -> DeliveryEntry:
    """An entry whose call never recorded a result: ambiguous."""
    if entry.state is not DeliveryState.SENDING:
        return entry
    return entry.retry_at(
        datetime.fromisoformat(entry.updated_at),
        "stopped during the call",
        maybe_sent=entry.maybe_sent or not idempotent,
    )


def as_sent(alert: Alert, entry: DeliveryEntry) -> Alert:
    """What to send for an entry: marked as a possible repeat when an earlier try may have arrived."""
    if not entry.maybe_sent:
        return alert
    return Alert(**{**alert.to_json(), "possible_repeat": True})


def quiet_until(target: TargetConfig, severity: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When the target's quiet hours end, if they hold back an alert of `severity` at `now`
    (None: it may go now). An alert at or above `except_severity` is never held."""
    quiet = target.quiet_hours
    if quiet is None:
        return None
    if quiet.except_severity is not None and SEVERITIES.index(severity) >= SEVERITIES.index(  # type: ignore[arg-type]
        quiet.except_severity
    ):
        return None
    return quiet_window_end(quiet, now, zone)


def latency(alert: Alert, entry: DeliveryEntry, delivered_at: datetime) -> float:
    """Seconds from the source event's time (a digest's: its window's end) to delivery, quiet hours
    and retries included; a routed feed item, planned for later, counts from when it was due."""
    start = datetime.fromisoformat(alert.occurred_at) if alert.occurred_at else None
    if start is None or entry.source_topic == FEED_ITEMS.name:
        start = datetime.fromisoformat(entry.first_at)
    return max(0.0, (delivered_at - start).total_seconds())
