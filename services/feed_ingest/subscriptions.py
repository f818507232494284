"""The subscriptions store: the `feeds` table (feed id → `FeedState`), kept in step with
herald.feeds, and every write of a feed's state.

- The subscription consumer writes the table without waiting (its offset commit waits for the
  broker instead); a poll's outcome is written and its changelog record's ack awaited
  (`store`): the seen-state is durable before anything relies on it.
- Routine 304s (`state.only_timing_changed`: nothing changed but when the feed was polled and is
  due next) are not written one by one: the new state stays in memory on top of the table's
  value (`remember`), and `flush_timing` writes them every `feed_timing_flush_seconds`, before
  partitions are revoked, and at shutdown. Lost in a crash, such a state only means an early
  conditional poll. Every poll is still reported on feed-health, which is what `herald feeds
  list` reads.
- Memory per worker follows ownership: faust's memory store drops keys of lost partitions only
  for keys it *recovered* (`Store._key_partition`), not for keys this worker wrote itself, so
  `keep_partitions` drops every entry whose partition is no longer owned (no changelog write:
  the store's dict only; a later assignment recovers the partition from the changelog again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

import faust

from services.feed_ingest.state import FeedState, subscribe, unsubscribe, utcnow
from shared.envelope import CloudEvent
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.tables import DurableTable
from shared.topics import FEEDS

log = logging.getLogger(__name__)


class Subscriptions:
    """The feeds table and a cache of its validated states. `on_change` hears every state
    written or remembered (the scheduler keeps its due-heap with it)."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        app = runtime.app
        self.table = app.tables.add(
            DurableTable(
                app,
                name="feeds",
                default=None,
                beacon=app.tables.beacon,
                partitions=FEEDS.partitions,
                key_type=str,
                # No value_type: JSON, and plain dicts back (value_type=dict breaks changelog recovery).
                help="feed_ingest: feed id → subscription, poll state and seen ids (FeedState as JSON).",
            )
        )
        self.topic_name = runtime.settings.topic_namespace + FEEDS.name
        self.on_change: Callable[[FeedState], None] = lambda state: None
        self._validated: dict[str, tuple[dict[str, Any], FeedState]] = {}  # see `state`
        self._unflushed: set[str] = set()  # newer state in `_validated` than in the table: `remember`

    async def on_subscription(self, envelope: CloudEvent, payload: FeedSubscribed | FeedUnsubscribed) -> None:
        """Keep the table in step with herald.feeds.

        A record whose key is not its feed_id is dead-lettered with the reason: the key decides the
        partition, and the partition decides which worker owns the feed."""
        event = faust.current_event()
        assert event is not None  # always inside the consumer's iteration
        key = (event.key or b"").decode(errors="replace")
        if key != payload.feed_id:
            await self.runtime.dead_letter(
                event, f"record key {key!r} is not the event's feed_id {payload.feed_id!r}"
            )
            return
        existing = self.state(payload.feed_id)
        if isinstance(payload, FeedSubscribed):
            if payload.feed_id != feed_id_for(str(payload.url)) and (
                existing is None or existing.url != str(payload.url)
            ):
                # Tolerated: URL parsers may spell the same URL differently; the id stays the key.
                log.warning("feed_id %s is not feed_id_for(%s)", payload.feed_id, payload.url)
            new = subscribe(existing, payload, partition=event.message.partition, now=utcnow())
            if existing is None or existing.paused != new.paused or not existing.active:
                state_word = "paused" if new.paused else f"every {new.interval_seconds}s"
                log.debug("subscribed %s %s %s", new.feed_id, new.url, state_word)
        else:
            new = unsubscribe(existing, payload)
            log.debug("unsubscribed %s", payload.feed_id)
        if new is not None:
            self.keep(new)  # confirmed before this record's offset is committed (shared.consumer)

    # --- reading ----------------------------------------------------------------------------
    def _store_dict(self) -> dict[str, Any] | None:
        """The memory store's own dict behind the feeds table (None for another store)."""
        values = getattr(self.table.data, "data", None)
        return values if isinstance(values, dict) else None

    def _table_value(self, feed_id: str) -> dict[str, Any] | None:
        """The table's raw value, read from the memory store's dict when there is one: the
        table's own `get` goes through faust's mapping layers and sensors, several times per poll
        (the table has no default, so a missing key is just None either way)."""
        values = self._store_dict()
        return values.get(feed_id) if values is not None else self.table.get(feed_id)

    def state(self, feed_id: str) -> FeedState | None:
        """The feed's state from the table, validated once per table value: a poll reads it
        several times, and the value is only replaced, never changed in place (frozen models,
        fresh dicts), so the same dict object means the same state."""
        raw = self._table_value(feed_id)
        if not raw:
            self._validated.pop(feed_id, None)
            return None
        cached = self._validated.get(feed_id)
        if cached is not None and cached[0] is raw:
            return cached[1]
        state = FeedState.model_validate(raw)
        self._validated[feed_id] = (raw, state)
        return state

    def latest(self, polled: FeedState) -> FeedState:
        """The state to apply a poll's outcome to: the table's current one, which may carry a
        subscription change made while the poll ran (only polls change the seen ids)."""
        current = self.state(polled.feed_id)
        return current if current is not None and current.generation == polled.generation else polled

    def keep_partitions(self, partitions: Collection[int]) -> tuple[list[FeedState], int]:
        """The states of `partitions`' feeds; every other entry is dropped from the memory store
        (see the module docstring). Returns the states and how many entries were dropped."""
        raw_dict = self._store_dict()
        key_partition = getattr(self.table.data, "_key_partition", None)
        kept: list[FeedState] = []
        dropped = 0
        for feed_id, raw in list(self.table.items()):
            if not raw or raw.get("partition") not in partitions:
                if raw_dict is not None:
                    raw_dict.pop(feed_id, None)
                    if isinstance(key_partition, dict):
                        key_partition.pop(feed_id, None)
                    dropped += 1
                continue
            state = self.state(feed_id)
            if state is not None:
                kept.append(state)
        return kept, dropped

    def forget_all_but(self, feed_ids: Collection[str]) -> None:
        """Drop cached states (and unflushed timing) of feeds not in `feed_ids`."""
        self._validated = {f: pair for f, pair in self._validated.items() if f in feed_ids}
        self._unflushed &= set(feed_ids)

    # --- writing ----------------------------------------------------------------------------
    async def store(self, state: FeedState) -> None:
        """Write the table entry (into the feed's own partition) and wait until its changelog
        record is acknowledged: the seen-state is durable before anything relies on it."""
        raw = state.to_table()
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.discard(state.feed_id)
        await self.table.put_durably(state.feed_id, raw, partition=state.partition)
        self.on_change(state)

    def keep(self, state: FeedState) -> None:
        """Write the table entry without waiting: for stream handlers, whose offset commit waits
        for the broker's acknowledgement instead (one wait per commit, not per record)."""
        raw = state.to_table()
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.discard(state.feed_id)
        self.table.put(state.feed_id, raw, partition=state.partition)
        self.on_change(state)

    def remember(self, state: FeedState) -> bool:
        """Hold a timing-only state in memory, on top of the table's value (`state` returns it
        while that value stands; a subscription change builds on it). False if the feed has no
        table value to stand on (then store it)."""
        raw = self._table_value(state.feed_id)
        if not raw:
            return False
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.add(state.feed_id)
        self.on_change(state)
        return True

    def flush_timing(self, owned: Collection[str]) -> None:
        """Write the timing-only states of `owned` feeds to the table (not awaited one by one: the
        next offset commit confirms them), so a restart or the next owner schedules from recent
        times."""
        feed_ids, self._unflushed = self._unflushed, set()
        for feed_id in feed_ids:
            state = self.state(feed_id)
            if state is not None and feed_id in owned:
                self.keep(state)
