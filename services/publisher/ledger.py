"""The posting ledger: for each (item id, channel:account), what Herald intended and what happened.

Kafka delivers at least once and posting is an outside effect, so the publisher writes an *intent*
before calling a channel and the *result* after. On a redelivered item the ledger decides
(`decide`, pure): posted → acknowledge without posting; an intent with no result (the process died
during the call) → never post blindly, report it for a person to check (issue 4 adds the X
timeline lookup); a final failure → nothing more to do.

The ledger is a faust Table (changelog-backed, in memory, restored from its changelog at start-up),
co-partitioned with `herald.feed-items` (4 partitions) and written only from the item's own
handler, so an item's entries live in its partition.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import faust
from faust.types.tuples import FutureMessage

LEDGER_TABLE = "post-ledger"


class LedgerState(StrEnum):
    INTENT = "intent"
    POSTED = "posted"
    FAILED = "failed"


class Decision(StrEnum):
    POST = "post"
    ALREADY_POSTED = "already_posted"
    ALREADY_FAILED = "already_failed"
    UNCONFIRMED = "unconfirmed"


def ledger_key(item_id: str, channel: str, account: str) -> str:
    """One entry per item and channel account: `<item id>|<channel>:<account>`."""
    return f"{item_id}|{channel}:{account}"


@dataclass(frozen=True)
class LedgerEntry:
    """What the ledger knows about one item on one channel account."""

    state: LedgerState
    text: str
    attempts: int = 0
    updated_at: str = ""
    post_id: str | None = None
    post_url: str | None = None
    dry_run: bool = False
    error_code: str | None = None
    reason: str | None = None
    retryable: bool = False
    maybe_posted: bool = False
    event_sent: bool = False

    @classmethod
    def intent(cls, text: str, *, attempts: int) -> LedgerEntry:
        return cls(state=LedgerState.INTENT, text=text, attempts=attempts, updated_at=_now())

    def posted(self, *, post_id: str, post_url: str | None, dry_run: bool, attempts: int) -> LedgerEntry:
        return replace(
            self,
            state=LedgerState.POSTED,
            post_id=post_id,
            post_url=post_url,
            dry_run=dry_run,
            attempts=attempts,
            updated_at=_now(),
            event_sent=False,
        )

    def failed(
        self, *, error_code: str, reason: str, retryable: bool, attempts: int, maybe_posted: bool = False
    ) -> LedgerEntry:
        return replace(
            self,
            state=LedgerState.FAILED,
            error_code=error_code,
            reason=reason,
            retryable=retryable,
            attempts=attempts,
            maybe_posted=maybe_posted,
            updated_at=_now(),
            event_sent=False,
        )

    def with_event_sent(self) -> LedgerEntry:
        return replace(self, event_sent=True)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerEntry:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["state"] = LedgerState(known["state"])
        return cls(**known)


def decide(entry: LedgerEntry | None) -> Decision:
    """What to do with an item given its ledger entry (None: never seen)."""
    if entry is None:
        return Decision.POST
    if entry.state is LedgerState.POSTED:
        return Decision.ALREADY_POSTED
    if entry.state is LedgerState.INTENT:
        return Decision.UNCONFIRMED  # we called the channel and never learnt the answer
    if entry.retryable and entry.maybe_posted:
        return Decision.UNCONFIRMED  # the last try may have gone out
    if entry.retryable:
        return Decision.POST  # e.g. a dead-lettered item replayed after an outage
    return Decision.ALREADY_FAILED


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LedgerWriteError(RuntimeError):
    """The broker did not confirm a ledger record: the channel must not be called."""


class LedgerTable(faust.Table):
    """A faust Table that keeps the future of each key's latest changelog send, so a writer can
    wait until the broker has the record.

    Why: `table[key] = value` only queues the changelog record (`Table.on_key_set` →
    `send_changelog` → `changelog_topic.send_soon`, faust 0.15 tables/base.py); a failed send is
    logged by the producer, not raised, and the consumer offset can still be committed. An intent
    that was only queued could be lost by a SIGKILL right after the API call, and the redelivered
    item would then be posted again. `send_changelog` returns the `FutureMessage` that resolves
    with the broker's RecordMetadata (acks=all here) or fails with the send's error — awaiting
    exactly that future confirms this record, unlike `app.producer.flush()`, whose buffer flush
    gives up after 0.1 s without an error and so does not prove the record was sent.
    """

    def __post_init__(self) -> None:  # mode.Service hook, called by __init__
        super().__post_init__()
        self._pending_sends: dict[Any, FutureMessage] = {}

    def send_changelog(self, partition: int | None, key: Any, value: Any, *args: Any, **kwargs: Any):
        fut = super().send_changelog(partition, key, value, *args, **kwargs)
        self._pending_sends[key] = fut
        return fut

    async def put_durably(self, key: str, value: dict[str, Any], *, wait_seconds: float = 15.0) -> None:
        """Set `key` and return only once the broker has acknowledged the changelog record."""
        self[key] = value
        fut = self._pending_sends.pop(key, None)
        if fut is None:
            raise LedgerWriteError(f"no changelog send for ledger key {key!r}")
        try:
            await asyncio.wait_for(asyncio.shield(fut), wait_seconds)
        except Exception as exc:
            raise LedgerWriteError(
                f"ledger record for {key!r} not confirmed: {type(exc).__name__}: {exc}"
            ) from exc

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Set `key` without waiting (for bookkeeping whose loss is harmless)."""
        self[key] = value
        self._pending_sends.pop(key, None)


class PostingLedger:
    """The ledger's API for the publisher: typed entries in, typed entries out."""

    def __init__(self, app: faust.App, *, partitions: int) -> None:
        self.table = LedgerTable(
            app,
            name=LEDGER_TABLE,
            default=None,
            beacon=app.tables.beacon,
            partitions=partitions,
            schema=faust.Schema(
                key_type=str, value_type=None, key_serializer="json", value_serializer="json"
            ),
            help="Posting ledger: (item id, channel:account) → intent/result.",
        )
        app.tables.add(self.table)

    def get(self, key: str) -> LedgerEntry | None:
        raw = self.table.get(key)
        return LedgerEntry.from_json(raw) if raw else None

    async def record(self, key: str, entry: LedgerEntry) -> None:
        """Write and wait for the broker's acknowledgement (intents and results)."""
        await self.table.put_durably(key, entry.to_json())

    def note(self, key: str, entry: LedgerEntry) -> None:
        """Write without waiting (the "event sent" mark: losing it only re-sends an event)."""
        self.table.put(key, entry.to_json())
