"""The posting ledger: for each (item id, channel:account), what Herald intended and what happened.

Kafka delivers at least once and posting is an outside effect, so the publisher writes an *intent*
before calling a channel and the *result* after. The life of an entry (issue 4):

    queued ──▶ intent ──▶ posted | failed          (held ──▶ queued | dropped, by a person or a timer)
      ▲          │
      └──────────┘ (429 / transient error before any byte went out: back in the queue)

`queued` is written (and acknowledged by the broker) by the FEED_ITEMS handler *before* its offset
can be committed, with everything needed to post (the item, the text, the route's urgency): the
per-account queues live in memory, and after a crash the publisher rebuilds them from the queued
entries, so an item read from Kafka but not yet posted is never lost. `decide` (pure) says what a
redelivered item's entry means; an intent with no result is *resolved* (the channel's recent posts
are searched for the link; Mastodon retries with the same Idempotency-Key; X holds it), never
posted blindly.

The ledger is a faust Table (changelog-backed, in memory, restored from its changelog at start-up),
co-partitioned with `herald.feed-items` (4 partitions). Entries record the partition of their item,
and writes from the per-account workers, the release timer and the command handler name that
partition explicitly, so an item's entries always live in its own partition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import faust

from shared.tables import DurableTable

LEDGER_TABLE = "post-ledger"


class LedgerState(StrEnum):
    QUEUED = "queued"
    INTENT = "intent"
    POSTED = "posted"
    FAILED = "failed"
    HELD = "held"
    DROPPED = "dropped"


class Decision(StrEnum):
    POST = "post"
    ALREADY_POSTED = "already_posted"
    ALREADY_FAILED = "already_failed"
    UNCONFIRMED = "unconfirmed"
    PENDING = "pending"  # queued: the account's worker has it (or will, after a restart)
    HELD = "held"
    DROPPED = "dropped"


def ledger_key(item_id: str, channel: str, account: str, revision: str | None = None) -> str:
    """One entry per item and channel account: `<item id>|<channel>:<account>`; a correction (an
    updated item a route posts again) is its own entry: `…|<content hash>`."""
    key = f"{item_id}|{channel}:{account}"
    return f"{key}|{revision}" if revision else key


def split_key(key: str) -> tuple[str, str, str]:
    """(item id, channel kind, account) of a ledger key."""
    item_id, _, rest = key.partition("|")
    target = rest.partition("|")[0]
    kind, _, account = target.partition(":")
    return item_id, kind, account


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
    # issue 4: what a worker needs to post after a restart, and the policy's decisions
    target: str = ""  # the route's `kind:account`
    link: str | None = None  # the item's link as posted (UTM added): what `find_recent` looks for
    partition: int | None = None  # the item's partition on herald.feed-items
    item: dict[str, Any] | None = None  # the item's payload (FeedItemDiscovered/Updated JSON)
    item_type: str = ""  # its CloudEvents type
    urgent: bool = False
    approved: bool = False  # a person approved it: the policy is skipped, the ledger is not
    approved_by: str | None = None
    dropped_by: str | None = None  # dropped: the person (for PostDropped, also when re-sent)
    rule: str | None = None  # held: the policy rule
    release_at: str | None = None  # held: ISO time it goes out by itself; None: needs a person
    cost: float = 0.0
    posted_at: str | None = None
    queued_at: str | None = None
    # transient failures (services.publisher.retry): when the first one was, when to try again
    first_failed_at: str | None = None
    retry_at: str | None = None
    # an intent without a result (services.publisher.posting.unconfirmed)
    looked_at: str | None = None  # when a first look at the account did not find it
    guarded_retry: bool = False  # queued again because the channel's guard makes a retry safe

    @classmethod
    def intent(cls, text: str, *, attempts: int) -> LedgerEntry:
        return cls(state=LedgerState.INTENT, text=text, attempts=attempts, updated_at=_now())

    @classmethod
    def queued(
        cls,
        text: str,
        *,
        target: str,
        partition: int | None,
        item: dict[str, Any],
        item_type: str,
        urgent: bool,
        link: str | None = None,
        attempts: int = 0,
    ) -> LedgerEntry:
        now = _now()
        return cls(
            state=LedgerState.QUEUED,
            text=text,
            attempts=attempts,
            updated_at=now,
            target=target,
            partition=partition,
            item=item,
            item_type=item_type,
            urgent=urgent,
            link=link,
            queued_at=now,
        )

    def to_state(self, state: LedgerState, **changes: Any) -> LedgerEntry:
        """The same entry in another state (result fields cleared when going back to the queue)."""
        if state in (LedgerState.QUEUED, LedgerState.INTENT):
            changes.setdefault("error_code", None)
            changes.setdefault("reason", None)
        return replace(self, state=state, updated_at=_now(), event_sent=False, **changes)

    def held(self, *, rule: str, reason: str, release_at: str | None) -> LedgerEntry:
        return self.to_state(LedgerState.HELD, rule=rule, reason=reason, release_at=release_at)

    def posted(self, *, post_id: str, post_url: str | None, dry_run: bool, attempts: int) -> LedgerEntry:
        now = _now()
        return replace(
            self,
            state=LedgerState.POSTED,
            post_id=post_id,
            post_url=post_url,
            dry_run=dry_run,
            attempts=attempts,
            updated_at=now,
            posted_at=now,
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
        """The stored form: a flat copy (the item's dict is shared, never changed in place —
        `asdict`'s deep copy of it was a tenth of a post's CPU)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

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
    if entry.state is LedgerState.QUEUED:
        return Decision.PENDING
    if entry.state is LedgerState.HELD:
        return Decision.HELD
    if entry.state is LedgerState.DROPPED:
        return Decision.DROPPED
    if entry.retryable and entry.maybe_posted:
        return Decision.UNCONFIRMED  # the last try may have gone out
    if entry.retryable:
        return Decision.POST  # e.g. a dead-lettered item replayed after an outage
    return Decision.ALREADY_FAILED


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PostingLedger:
    """The ledger's API for the publisher: typed entries in, typed entries out."""

    def __init__(self, app: faust.App, *, partitions: int) -> None:
        self.table = DurableTable.json_ledger(
            app,
            name=LEDGER_TABLE,
            partitions=partitions,
            help="Posting ledger: (item id, channel:account) → intent/result.",
        )

    def get(self, key: str) -> LedgerEntry | None:
        raw = self.table.get(key)
        return LedgerEntry.from_json(raw) if raw else None

    def entries(self) -> list[tuple[str, LedgerEntry]]:
        """Every entry this worker holds (its partitions), for the queue rebuild and listings."""
        return [(key, LedgerEntry.from_json(raw)) for key, raw in list(self.table.data.items()) if raw]

    def needing_attention(self, in_hand: Callable[[str, str], bool]) -> list[tuple[str, LedgerEntry]]:
        """The entries the sweep may act on: still to post (unless `in_hand(key, target)`: a lane
        has it), held, or recorded but not told — filtered on the stored dicts before decoding,
        since most entries are long posted and told, and in a backlog most of the rest are queued."""
        to_post = (LedgerState.QUEUED.value, LedgerState.INTENT.value)
        return [
            (key, LedgerEntry.from_json(raw))
            for key, raw in list(self.table.data.items())
            if raw
            and (
                (raw.get("state") in to_post and not in_hand(key, raw.get("target", "")))
                or raw.get("state") == LedgerState.HELD.value
                or (raw.get("state") not in to_post and not raw.get("event_sent"))
            )
        ]

    def item_entries(self, item_id: str) -> list[tuple[str, LedgerEntry]]:
        prefix = f"{item_id}|"
        return [(key, entry) for key, entry in self.entries() if key.startswith(prefix)]

    async def record(self, key: str, entry: LedgerEntry) -> None:
        """Write and wait for the broker's acknowledgement (intents and results); raises
        `shared.tables.TableWriteError` if it does not come, so the channel is never called."""
        await self.table.put_durably(key, entry.to_json(), partition=entry.partition)

    def note(self, key: str, entry: LedgerEntry) -> None:
        """Write without waiting (the "event sent" mark: losing it only re-sends an event)."""
        self.table.put(key, entry.to_json(), partition=entry.partition)
