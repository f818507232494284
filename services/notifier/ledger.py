"""The delivery ledger: one durable record per (alert, target), in a faust table.

    pending ──▶ sending ──▶ delivered
       ▲           │
       └───────────┴──▶ dead   (a permanent refusal, or the give-up age passed)

The consumer writes `pending` — with the alert as this target may see it, and the source record
for a dead letter — and waits for the broker's acknowledgement before its offset can be committed,
so an alert read is never lost. Each target's lane writes `sending` (acknowledged) before the call
and the result after. An alert is done for a target only when it is `delivered`. The key is the
alert id (`decide.alert_id`), so a redelivered event finds its entry and is not alerted twice.
Entries stay after delivery: they are the "already told" record (compacted changelog, one record
per key). The table is co-partitioned with the notifier's source topics (4 partitions); each
entry records its source partition, and writers outside a stream name it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import faust

from shared.tables import DurableTable

LEDGER_TABLE = "delivery-ledger"


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"


@dataclass(frozen=True)
class DeliveryEntry:
    state: DeliveryState
    target: str
    alert: dict[str, Any]
    partition: int | None
    first_at: str
    next_at: str
    updated_at: str
    attempts: int = 0
    last_error: str | None = None
    maybe_sent: bool = False  # an earlier try may have arrived (ambiguous, target not idempotent)
    delivered_at: str | None = None
    event_sent: bool = False  # the ForumAlertSent / ServiceError for the result went out
    source_topic: str = ""
    source_key: str | None = None
    source_value: str = ""  # the source record as read (JSON), for the dead letter

    @classmethod
    def new(
        cls,
        *,
        target: str,
        alert: dict[str, Any],
        partition: int | None,
        now: datetime,
        source_topic: str,
        source_key: str | None,
        source_value: str,
        not_before: datetime | None = None,
    ) -> DeliveryEntry:
        """A new entry, due now or (a reminder) at `not_before`, from when its give-up age counts."""
        at = now.isoformat()
        due = max(now, not_before).isoformat() if not_before is not None else at
        return cls(
            state=DeliveryState.PENDING,
            target=target,
            alert=alert,
            partition=partition,
            first_at=due,
            next_at=due,
            updated_at=at,
            source_topic=source_topic,
            source_key=source_key,
            source_value=source_value,
        )

    def rescheduled(self, alert: dict[str, Any], not_before: datetime, now: datetime) -> DeliveryEntry:
        """A pending entry with new words and a new time (a reminder whose item changed)."""
        due = max(now, not_before).isoformat()
        return replace(self, alert=alert, first_at=due, next_at=due, updated_at=now.isoformat())

    def with_alert(self, alert: dict[str, Any], now: datetime) -> DeliveryEntry:
        """A pending entry with new words, due when it was (a published alert its item's next
        channel joined)."""
        return replace(self, alert=alert, updated_at=now.isoformat())

    def sending(self, now: datetime) -> DeliveryEntry:
        return replace(
            self, state=DeliveryState.SENDING, attempts=self.attempts + 1, updated_at=now.isoformat()
        )

    def delivered(self, now: datetime) -> DeliveryEntry:
        at = now.isoformat()
        return replace(self, state=DeliveryState.DELIVERED, delivered_at=at, updated_at=at, event_sent=False)

    def retry_at(self, when: datetime, reason: str, *, maybe_sent: bool) -> DeliveryEntry:
        return replace(
            self,
            state=DeliveryState.PENDING,
            next_at=when.isoformat(),
            last_error=reason,
            maybe_sent=maybe_sent,
        )

    def dead(self, reason: str, now: datetime) -> DeliveryEntry:
        return replace(
            self, state=DeliveryState.DEAD, last_error=reason, updated_at=now.isoformat(), event_sent=False
        )

    def told(self) -> DeliveryEntry:
        return replace(self, event_sent=True)

    def to_json(self) -> dict[str, Any]:
        """The stored form: a flat copy (the alert's dict is shared, never changed in place —
        `asdict`'s deep copy of it was a quarter of a delivery's CPU)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeliveryEntry:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["state"] = DeliveryState(known["state"])
        return cls(**known)


class DeliveryLedger:
    def __init__(self, app: faust.App, *, partitions: int) -> None:
        self.table = DurableTable.json_ledger(
            app,
            name=LEDGER_TABLE,
            partitions=partitions,
            help="Delivery ledger: alert id (source event, target, kind) → pending/sending/delivered/dead.",
        )

    def get(self, key: str) -> DeliveryEntry | None:
        raw = self.table.get(key)
        return DeliveryEntry.from_json(raw) if raw else None

    def entries(self) -> list[tuple[str, DeliveryEntry]]:
        return [(key, DeliveryEntry.from_json(raw)) for key, raw in list(self.table.data.items()) if raw]

    def for_target(self, target: str, *, include_untold: bool = True) -> list[tuple[str, DeliveryEntry]]:
        """One target's entries still at work (and, with `include_untold`, results not yet told):
        filtered on the stored dicts first, since most entries are long delivered."""
        working = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)
        return [
            (key, DeliveryEntry.from_json(raw))
            for key, raw in list(self.table.data.items())
            if raw
            and raw.get("target") == target
            and (raw.get("state") in working or (include_untold and not raw.get("event_sent")))
        ]

    async def record(self, key: str, entry: DeliveryEntry) -> None:
        """Write and wait for the broker (raises shared.tables.TableWriteError if it does not come)."""
        await self.table.put_durably(key, entry.to_json(), partition=entry.partition)

    def note(self, key: str, entry: DeliveryEntry) -> None:
        """Write without waiting (the "told" mark: losing it only repeats a ForumAlertSent)."""
        self.table.put(key, entry.to_json(), partition=entry.partition)
