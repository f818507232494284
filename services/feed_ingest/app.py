"""feed_ingest's faust app: subscriptions table, per-worker due-heap, poll agent, push endpoints.

- `herald.feeds` → the `feeds` table (feed id → `FeedState`), written by the subscription consumer.
- Scheduling (issue 5 §4): each worker keeps a heap of the feeds it owns (their herald.feeds
  partition is assigned to it as active), rebuilt after every rebalance once recovery is over, so
  finding due feeds costs O(due feeds), not O(all feeds). One scheduler task polls due feeds
  itself, `feed_poll_concurrency` at a time: a poll needs no Kafka round trip before it starts,
  and the table entry it writes names the feed's partition (`shared.tables.DurableTable`).
  Before partitions are revoked, polls in flight are drained, so a feed's next owner never polls
  it while this worker still is.
- Memory per worker follows ownership: faust's memory store drops keys of lost partitions only
  for keys it *recovered* (`Store._key_partition`), not for keys this worker wrote itself, so
  the rebuild also drops every entry whose partition is no longer owned (no changelog write:
  the store's dict only; a later assignment recovers the partition from the changelog again).
- A poll fetches, parses (in a thread: parsing is CPU-bound), decides, publishes each new item
  (`FeedItemDiscovered`) and each changed one (`FeedItemUpdated`) to `herald.feed-items` — all
  sent at once, then every broker ack awaited — and only then stores the new seen-state (waiting
  for that changelog record's ack too): a crash between the two re-announces at most those items
  once (the publisher's ledger absorbs that), never loses one. Then the poll's outcome goes to
  `herald.ops.feed-health` (`FeedPolled`, and `FeedStatusChanged`/`FeedMoved` when they happen).
- Routine 304s (`state.only_timing_changed`: nothing changed but when the feed was polled and is
  due next) are not written one by one: the new state stays in memory on top of the table's
  value, and `flush_timing` writes them every `feed_timing_flush_seconds`, before partitions
  are revoked, and at shutdown. Lost in a crash, such a state only means an early conditional
  poll. Every poll is still reported on feed-health, which is what `herald feeds list` reads.
- Push (issue 5 §5): `POST /ping` and WebSub distributions become poll requests with reason
  "ping"/"push" on `herald.internal.feed-polls`, keyed like herald.feeds: faust co-partitions
  topics with the same partition count, so whichever worker the HTTP request reaches, the
  feed's owner acts.

A feed is never polled twice at once: an in-flight set here; a ping or push that arrives
mid-poll runs right after it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from pydantic import ValidationError

from services.feed_ingest import websub
from services.feed_ingest.decide import Decision, Update, decide, remember, settle_fingerprints
from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher, FetchResult
from services.feed_ingest.parse import ParsedEntry, ParsedFeed, parse_feed
from services.feed_ingest.schedule import DueHeap, SchedulePolicy
from services.feed_ingest.state import (
    FeedState,
    PollReason,
    PollRequest,
    after_error,
    after_not_modified,
    after_success,
    moved,
    only_timing_changed,
    status_change,
    subscribe,
    unsubscribe,
    utcnow,
    websub_granted,
    websub_requested,
)
from shared.envelope import CloudEvent
from shared.events import (
    FeedItemUpdated,
    FeedMoved,
    FeedPolled,
    FeedStatusChanged,
    FeedSubscribed,
    FeedUnsubscribed,
)
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.tables import DurableTable, TableWriteError
from shared.topics import FEED_HEALTH, FEED_ITEMS, FEED_POLLS, FEEDS

log = logging.getLogger(__name__)

SERVICE = "feed_ingest"
#: How long a revoke waits for polls in flight: long enough for a normal poll, short enough that
#: one slow server (up to 3 × the HTTP timeout) does not hold the group's rebalance.
REVOKE_DRAIN_SECONDS = 10.0
#: Produce batches wait this long for more records: dozens of polls are in flight, each sending
#: items, a state and a FeedPolled; fuller batches cut the worker's and the broker's CPU per poll
#: (the benchmark's passes ran 5–20 % faster) for 10 ms more per acknowledged write (ping →
#: FeedItemDiscovered p50 5 → 38 ms; the goal is p99 under 1 s).
PRODUCER_LINGER_SECONDS = 0.01
#: Up to this much per partition in one produce request (aiokafka's default is 16 KB, ~20 FeedPolled
#: or ~10 items): a record's share of the Python work of requests fell ~45 → ~12 µs with 64 KB
#: and FeedPolled sent in batches (`shared.report_batches`), measured against the local broker.
PRODUCER_BATCH_BYTES = 64 * 1024
#: Bodies up to this size are parsed on the event loop (see `FeedIngest._parse`).
INLINE_PARSE_BYTES = 64 * 1024


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    runtime = ServiceRuntime(
        SERVICE,
        settings,
        bootstrap_servers=bootstrap,
        producer_linger=PRODUCER_LINGER_SECONDS,
        producer_batch_bytes=PRODUCER_BATCH_BYTES,
    )
    FeedIngest(runtime).install()
    return runtime


@dataclass(frozen=True)
class _Failure:
    """A poll failure that is Herald's side (items not published), shaped like `FeedError`."""

    kind: str
    reason: str
    http_status: int | None = None
    retry_after_seconds: float | None = None


class FeedIngest:
    """The service's parts, wired onto one runtime. Nothing connects until the worker starts."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.settings = runtime.settings
        self.options = runtime.settings.feed_ingest
        self.policy = SchedulePolicy(
            min_interval=self.options.feed_min_interval_seconds,
            max_interval=self.options.feed_max_interval_seconds,
            jitter=self.options.feed_poll_jitter,
            max_backoff=self.options.feed_max_backoff_seconds,
            broken_after=self.options.feed_broken_after_seconds,
        )
        self.fetcher = FeedFetcher(self.settings)
        self.feeds = self.app.tables.add(
            DurableTable(
                self.app,
                name="feeds",
                default=None,
                beacon=self.app.tables.beacon,
                partitions=FEEDS.partitions,
                key_type=str,
                # No value_type: JSON, and plain dicts back (value_type=dict breaks changelog recovery).
                help="feed_ingest: feed id → subscription, poll state and seen ids (FeedState as JSON).",
            )
        )
        self.feeds_topic_name = self.settings.topic_namespace + FEEDS.name
        self.heap = DueHeap()
        self._heap_stale = True  # rebuilt after (re)assignment, once recovery is over
        self._owned: set[str] = set()  # active feeds of owned partitions
        self._polling: set[str] = set()
        self._validated: dict[str, tuple[dict[str, Any], FeedState]] = {}  # see `_state`
        self._unflushed: set[str] = set()  # newer state in `_validated` than in the table: `_remember`
        self._again: dict[str, PollRequest] = {}  # ping/push that came in mid-poll
        self._slots = asyncio.Semaphore(self.options.feed_poll_concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()  # scheduled polls running
        self._wake = asyncio.Event()  # a feed became due sooner than the scheduler sleeps
        self._drain_seconds = REVOKE_DRAIN_SECONDS
        self._random = random.Random()
        self.poll_counts: Counter[str] = Counter()  # polls done here, owned feeds only (for /feeds/owned)

    def install(self) -> None:
        self.runtime.consumer(FEEDS)(self.on_subscription)
        self.app.agent(
            self.runtime.topic(FEED_POLLS),
            name=f"herald.{SERVICE}.poll",
            concurrency=self.options.feed_poll_concurrency,
        )(self._poll_agent)
        self.app.task(self._scheduler)
        self.app.timer(self.options.feed_timing_flush_seconds, name=f"herald.{SERVICE}.flush_timing")(
            self.flush_timing
        )
        self.app.on_partitions_assigned.connect(self._on_assignment_change)
        self.app.on_partitions_revoked.connect(self._on_revoke)
        self.app.on_before_shutdown.connect(self._close)
        from services.feed_ingest.views import install_pages

        install_pages(self)
        self.runtime.heartbeat_detail["owned_feeds"] = "0"

    # --- subscriptions ----------------------------------------------------------------------
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
        existing = self._state(payload.feed_id)
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
            self._keep(new)  # confirmed before this record's offset is committed (shared.consumer)

    def _store_dict(self) -> dict[str, Any] | None:
        """The memory store's own dict behind the feeds table (None for another store)."""
        values = getattr(self.feeds.data, "data", None)
        return values if isinstance(values, dict) else None

    def _table_value(self, feed_id: str) -> dict[str, Any] | None:
        """The table's raw value, read from the memory store's dict when there is one: the
        table's own `get` goes through faust's mapping layers and sensors, several times per poll
        (the table has no default, so a missing key is just None either way)."""
        values = self._store_dict()
        return values.get(feed_id) if values is not None else self.feeds.get(feed_id)

    def _state(self, feed_id: str) -> FeedState | None:
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

    # --- ownership and the due-heap -----------------------------------------------------------
    async def _on_assignment_change(self, *args: Any, **kwargs: Any) -> None:
        self._heap_stale = True

    async def _on_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Let scheduled polls in flight finish before the partitions go: their table writes name
        partitions this worker is about to lose, and the next owner must not poll those feeds
        at the same time (faust drains its agents' events the same way). A poll still running
        after `REVOKE_DRAIN_SECONDS` finishes on its own; its items are at worst announced twice,
        which the publisher's ledger absorbs."""
        self._heap_stale = True
        if self._in_flight:
            log.info("rebalance: waiting for %d polls in flight", len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=self._drain_seconds)
        await self.flush_timing()  # the next owner schedules from the latest times
        with contextlib.suppress(TableWriteError):  # then at worst it polls a little early
            # Acknowledged before the partitions go: a flush landing after the next owner's own
            # writes would put back an older seen window.
            await self.feeds.confirm_pending(wait_seconds=5.0)

    def owned_partitions(self) -> set[int]:
        """Partitions of herald.feeds this worker owns now."""
        return {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.feeds_topic_name
        }

    def rebuild(self) -> None:
        """The heap and owned set from the table, for owned partitions only; entries of other
        partitions are dropped from the memory store (see the module docstring)."""
        owned = self.owned_partitions()
        self.heap.clear()
        self._owned.clear()
        store = self.feeds.data
        raw_dict = self._store_dict()
        key_partition = getattr(store, "_key_partition", None)
        dropped = 0
        for feed_id, raw in list(self.feeds.items()):
            if not raw or raw.get("partition") not in owned:
                if raw_dict is not None:
                    raw_dict.pop(feed_id, None)
                    if isinstance(key_partition, dict):
                        key_partition.pop(feed_id, None)
                    dropped += 1
                continue
            state = self._state(feed_id)
            if state is not None:
                self._track(state)
        for feed_id in [f for f in self.poll_counts if f not in self._owned]:
            del self.poll_counts[feed_id]
        self._validated = {f: pair for f, pair in self._validated.items() if f in self._owned}
        self._unflushed &= self._owned
        self._heap_stale = False
        self.runtime.heartbeat_detail["owned_feeds"] = str(len(self._owned))
        self.runtime.heartbeat_detail["owned_partitions"] = ",".join(str(p) for p in sorted(owned))
        log.info(
            "owning partitions %s: %d feeds (%d entries of other partitions dropped)",
            sorted(owned),
            len(self._owned),
            dropped,
        )

    def _track(self, state: FeedState) -> None:
        if state.active:
            self._owned.add(state.feed_id)
        else:
            self._owned.discard(state.feed_id)
        if state.schedulable:
            due = self.heap.next_due()
            self.heap.set(state.feed_id, state.next_poll_at)
            if due is None or state.next_poll_at < due:
                self._wake.set()  # sooner than the scheduler planned to look
        else:
            self.heap.discard(state.feed_id)
        self.runtime.heartbeat_detail["owned_feeds"] = str(len(self._owned))

    # --- scheduling -------------------------------------------------------------------------
    def may_poll(self) -> bool:
        """Not while a rebalance or table recovery runs: a half-recovered table could hold an old
        seen window."""
        return bool(
            self.runtime.ready and not self.app.rebalancing and not getattr(self.app, "in_recovery", False)
        )

    async def _scheduler(self) -> None:
        """Poll each owned feed when it is due, at most `feed_poll_concurrency` at a time."""
        while True:
            try:
                feed_id = await self._next_due_feed()
                await self._slots.acquire()
                if not self.may_poll() or self._heap_stale:  # ownership changed while we waited
                    self._slots.release()
                    continue
                self._start_poll(feed_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the scheduler must outlive any one feed's trouble
                log.exception("poll scheduling failed")
                await asyncio.sleep(self.settings.feed_ingest.poll_tick_seconds)

    async def _next_due_feed(self) -> str:
        """Wait until an owned, schedulable feed not being polled is due; take it off the heap."""
        tick = self.settings.feed_ingest.poll_tick_seconds
        while True:
            if not self.may_poll():
                await asyncio.sleep(tick)
                continue
            if self._heap_stale:
                self.rebuild()
            for feed_id in self.heap.pop_due(time.time(), limit=1):
                state = self._state(feed_id)
                if state is not None and state.schedulable and feed_id not in self._polling:
                    return feed_id
                # unsubscribed/paused (no longer scheduled), or being polled (reschedules itself)
            nxt = self.heap.next_due()
            wait = tick if nxt is None else min(tick, max(0.0, nxt - time.time()))
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()

    def _start_poll(self, feed_id: str, reason: PollReason = "schedule") -> None:
        # Validated like any other (pydantic's `model_construct`, in Python, costs twice as much).
        request = PollRequest(feed_id=feed_id, reason=reason, requested_at=utcnow())
        task = asyncio.ensure_future(self._run_poll(request))
        self._in_flight.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._in_flight.discard(finished)
            self._slots.release()
            if not self._in_flight:  # idle: the held FeedPolled reports need not wait longer
                self.runtime.flush_reports_soon()

        task.add_done_callback(done)

    async def request_poll(self, feed_id: str, reason: PollReason, **extra: Any) -> None:
        """Ask the feed's owner (whichever worker) to act now: ping, push or a granted lease.

        Keyed by feed id with the default partitioner, like the herald.feeds record, so it lands on
        the co-partitioned poll topic partition that the owner consumes."""
        request = PollRequest(feed_id=feed_id, reason=reason, requested_at=utcnow(), **extra)
        pending = await self.runtime.topic(FEED_POLLS).send(
            key=feed_id.encode(), value=request.model_dump_json().encode()
        )
        await pending

    # --- polling ----------------------------------------------------------------------------
    async def _poll_agent(self, stream: faust.StreamT) -> Any:
        async for event in stream.events():
            try:
                request = PollRequest.model_validate_json(event.value or b"")
            except ValidationError as exc:
                await self.runtime.dead_letter(event, f"not a poll request: {exc.errors()[0]['msg']}")
                continue
            if request.reason == "lease":
                await self._record_lease(request)
                continue
            if request.reason == "refresh":
                await self.refresh(event.message.partition)
                continue
            await self._run_poll(request)

    async def refresh(self, partition: int) -> int:
        """Poll every owned, schedulable feed of `partition` now (`herald feeds poll --all`),
        through the scheduler's slots, each as a "ping": a feed already being polled is polled
        again right after. Returns how many polls were started."""
        if not self.may_poll():  # no events reach agents then; but a stream may hold one
            log.warning("refresh of partition %d skipped: a rebalance is under way", partition)
            return 0
        if self._heap_stale:
            self.rebuild()
        due = []
        for feed_id in self._owned:
            state = self._state(feed_id)
            if state is not None and state.schedulable and state.partition == partition:
                due.append(feed_id)
        log.info("refresh: polling the %d feeds of partition %d now", len(due), partition)
        for started, feed_id in enumerate(due):
            await self._slots.acquire()
            if not self.may_poll() or self._heap_stale:  # ownership changed: the next owner has it
                self._slots.release()
                log.info("refresh of partition %d stopped by a rebalance after %d polls", partition, started)
                return started
            self._start_poll(feed_id, reason="ping")
        return len(due)

    async def _run_poll(self, request: PollRequest) -> None:
        """Poll unless the feed is being polled; a ping/push that came meanwhile runs after."""
        feed_id = request.feed_id
        if feed_id in self._polling:
            if request.reason != "schedule":  # a ping/push mid-poll may carry news: run it after
                self._again[feed_id] = request
            return  # a scheduled duplicate: the poll in flight serves it
        self._polling.add(feed_id)
        try:
            next_request: PollRequest | None = request
            while next_request is not None:
                await self._guarded_poll(next_request)
                next_request = self._again.pop(feed_id, None)
        finally:
            self._polling.discard(feed_id)

    async def _guarded_poll(self, request: PollRequest) -> None:
        try:
            await self.poll(request)
        except Exception as exc:  # a Herald bug: record it, keep the agent alive
            log.exception("poll of %s failed", request.feed_id)
            await self.runtime.report_error("poll_crashed", f"{request.feed_id}: {type(exc).__name__}: {exc}")
            state = self._state(request.feed_id)
            if state is not None and state.active:
                await self._store(
                    after_error(
                        state,
                        kind="internal",
                        reason=str(exc),
                        http_status=None,
                        now=utcnow(),
                        policy=self.policy,
                        rand=self._random.random(),
                    )
                )

    async def poll(self, request: PollRequest) -> None:
        """Fetch (or take the pushed body) → parse → decide → publish → remember → report."""
        state = self._state(request.feed_id)
        if state is None or not state.schedulable:
            return  # unsubscribed or paused
        if (
            request.reason == "schedule"
            and request.generation is not None
            and state.generation != request.generation
        ):
            return  # already polled since the request was made
        trigger = request.reason if request.reason in ("ping", "push") else "schedule"
        if not state.baseline_done:
            trigger = "first"
        self.poll_counts[state.feed_id] += 1
        started = time.monotonic()
        pushed = request.reason == "push" and request.body_b64 is not None
        try:
            if pushed:
                headers = {"content-type": request.content_type} if request.content_type else {}
                fetched = FetchResult(
                    "ok", 200, state.url, body=base64.b64decode(request.body_b64 or ""), headers=headers
                )
            else:
                fetched = await self.fetcher.fetch(
                    state.url, etag=state.etag, last_modified=state.last_modified
                )
            if fetched.status == "not_modified":
                new = after_not_modified(
                    self._latest(state),
                    http_status=fetched.http_status,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    now=utcnow(),
                    policy=self.policy,
                    rand=self._random.random(),
                    max_age=fetched.min_next_poll_seconds,
                )
                await self._finish(state, new, fetched.url, trigger, started)
                return
            parsed = await self._parse(fetched, state.feed_id)
        except FeedError as exc:
            await self._record_error(state, exc, trigger, started)
            return
        await self._apply(state, fetched, parsed, trigger, started, pushed=pushed)
        if not pushed and self.options.websub_enabled:
            await self._maybe_subscribe(state.feed_id, fetched)

    async def _parse(self, fetched: FetchResult, feed_id: str) -> ParsedFeed:
        """Parse on the event loop when the body is small (a typical feed takes ~2 ms: handing it
        to a thread costs more in GIL hand-offs than it saves), in a thread when it is big enough
        to stall the other polls."""
        if len(fetched.body) <= INLINE_PARSE_BYTES:
            return parse_feed(fetched.body, url=fetched.url, feed_id=feed_id, headers=fetched.headers)
        return await asyncio.to_thread(
            parse_feed, fetched.body, url=fetched.url, feed_id=feed_id, headers=fetched.headers
        )

    async def _apply(
        self,
        state: FeedState,
        fetched: FetchResult,
        parsed: ParsedFeed,
        trigger: str,
        started: float,
        *,
        pushed: bool,
    ) -> None:
        decision = decide(
            state.seen,
            parsed.entries,
            baseline_done=state.baseline_done,
            backfill=state.backfill,
            fingerprints=state.fingerprints,
        )
        new_sent = await self._publish(state, decision.emit)
        updates_sent = (
            await self._publish_updates(state, decision.updates) if new_sent == len(decision.emit) else 0
        )
        if new_sent < len(decision.emit) or updates_sent < len(decision.updates):
            await self._partial(state, fetched, parsed, decision, new_sent, updates_sent, trigger, started)
            return
        new = after_success(
            self._latest(state),
            seen=decision.seen,
            fingerprints=decision.fingerprints,
            emitted=new_sent,
            updated=updates_sent,
            http_status=fetched.http_status,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            now=utcnow(),
            policy=self.policy,
            rand=self._random.random(),
            max_age=fetched.min_next_poll_seconds,
            keep_validators=pushed,
        )
        if fetched.permanent_redirect and not pushed:
            new = await self._move(new, fetched)
        await self._finish(
            state,
            new,
            fetched.url,
            trigger,
            started,
            warnings=list(parsed.warnings),
            items_total=len(parsed.entries),
            items_new=new_sent,
            items_updated=updates_sent,
        )
        if decision.emit or decision.updates or not state.baseline_done:  # routine polls stay quiet
            # DEBUG: at thousands of feeds a line per poll costs more than a few percent of the
            # worker; every poll's counts are on herald.ops.feed-health (FeedPolled).
            log.debug(
                "polled %s (%s): %d entries, %d new, %d updated%s",
                state.feed_id,
                trigger,
                len(parsed.entries),
                new_sent,
                updates_sent,
                "" if state.baseline_done else " (first poll: existing items are not announced)",
            )

    async def _partial(
        self,
        state: FeedState,
        fetched: FetchResult,
        parsed: ParsedFeed,
        decision: Decision,
        new_sent: int,
        updates_sent: int,
        trigger: str,
        started: float,
    ) -> None:
        """Some events did not reach the broker: keep what did, retry the rest next poll."""
        unsent = decision.emit[new_sent:]
        unsent_updates = decision.updates[updates_sent:]
        seen = remember(state.seen, parsed.entries, forget=unsent)
        prints = settle_fingerprints(
            state.fingerprints,
            parsed.entries,
            seen,
            announced=decision.emit[:new_sent],
            updated=decision.updates[:updates_sent],
            failed=[*unsent, *(u.entry for u in unsent_updates)],
        )
        total = len(decision.emit) + len(decision.updates)
        error = _Failure(
            "publish_failed",
            f"{len(unsent) + len(unsent_updates)} of {total} item events not published; retrying next poll",
            fetched.http_status,
        )
        await self._record_error(state, error, trigger, started, seen=seen, fingerprints=prints)

    async def _publish(self, state: FeedState, entries: tuple[ParsedEntry, ...]) -> int:
        """Publish the new items; return how many, in order, the broker acknowledged."""
        now = utcnow()
        events = [
            (entry.item_id, entry.to_event(feed_id=state.feed_id, feed_url=state.url, discovered_at=now))
            for entry in entries
        ]
        return await self._publish_items(state, events)

    async def _publish_updates(self, state: FeedState, updates: tuple[Update, ...]) -> int:
        now = utcnow()
        events = []
        for update in updates:
            entry = update.entry
            event = FeedItemUpdated(
                item_id=update.item_id,
                feed_id=state.feed_id,
                feed_url=state.url,
                title=entry.title,
                link=entry.link,
                summary=entry.summary,
                author=entry.author,
                tags=list(entry.tags),
                image_urls=list(entry.image_urls),
                published=entry.published,
                updated=entry.updated,
                content_hash=entry.content_hash,
                previous_content_hash=update.previous_content_hash,
                changed_fields=list(update.changed_fields),
                detected_at=now,
            )
            events.append((update.item_id, event))
        return await self._publish_items(state, events)

    async def _publish_items(self, state: FeedState, events: list[tuple[str, Any]]) -> int:
        """Send every event at once, then wait for all the broker's acks (one round trip per poll,
        not per item). Returns the length of the acknowledged prefix: what follows the first
        failure is retried on the next poll (an event after it that did arrive is announced
        again then, which consumers absorb — never lost)."""
        acknowledgements: list[Any] = []
        for key, event in events:
            try:
                acknowledged = await self.runtime.send(FEED_ITEMS, key, event)
            except Exception as exc:  # the producer refused it (stopped, record too large)
                acknowledged = asyncio.get_running_loop().create_future()
                acknowledged.set_exception(exc)
            acknowledgements.append(acknowledged)
        results = await asyncio.gather(*acknowledgements, return_exceptions=True)
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                log.error(
                    "could not publish item %s of %s: %s: %s",
                    events[index][0],
                    state.feed_id,
                    type(result).__name__,
                    result,
                )
                return index
        return len(events)

    async def _record_error(
        self,
        state: FeedState,
        exc: FeedError | _Failure,
        trigger: str,
        started: float,
        *,
        seen: list[str] | None = None,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        new = after_error(
            self._latest(state),
            kind=exc.kind,
            reason=exc.reason,
            http_status=exc.http_status,
            now=utcnow(),
            seen=seen,
            fingerprints=fingerprints,
            policy=self.policy,
            rand=self._random.random(),
            retry_after=getattr(exc, "retry_after_seconds", None),
        )
        retry_in = max(0.0, new.next_poll_at - time.time())
        log.warning(
            "poll of %s failed (%s): %s; retry in %.0fs", state.feed_id, exc.kind, exc.reason, retry_in
        )
        await self._finish(state, new, state.url, trigger, started, error=exc)
        await self.runtime.report_error(f"feed_{exc.kind}", f"{state.feed_id} {state.url}: {exc.reason}")

    async def _finish(
        self,
        before: FeedState,
        new: FeedState,
        url: str,
        trigger: str,
        started: float,
        *,
        error: FeedError | _Failure | None = None,
        warnings: list[str] | None = None,
        items_total: int = 0,
        items_new: int = 0,
        items_updated: int = 0,
    ) -> None:
        """Store the outcome, then tell the feed-health topic (after the store: a FeedPolled means
        the seen-state it reflects is durable). A routine 304 only changes timing: kept in memory,
        written by `flush_timing`."""
        if not (only_timing_changed(before, new) and self._remember(new)):
            await self._store(new)
        now = new.last_polled_at or utcnow()
        try:
            await self.runtime.publish_nowait(  # held briefly, sent in a batch; not awaited
                FEED_HEALTH,
                new.feed_id,
                FeedPolled(
                    feed_id=new.feed_id,
                    url=url,
                    trigger=trigger,  # type: ignore[arg-type]
                    outcome=new.last_outcome or "error",
                    http_status=new.last_http_status,
                    error_kind=error.kind if error else None,
                    error=error.reason if error else None,
                    warnings=warnings or [],
                    items_total=items_total,
                    items_new=items_new,
                    items_updated=items_updated,
                    duration_ms=(time.monotonic() - started) * 1000,
                    polled_at=now,
                    next_poll_at=datetime.fromtimestamp(new.next_poll_at, UTC),
                ),
            )
            change = status_change(before, new)
            if change is not None:
                log.warning("feed %s is %s: %s", new.feed_id, change, new.last_error)
                await self.runtime.publish(
                    FEED_HEALTH,
                    new.feed_id,
                    FeedStatusChanged(
                        feed_id=new.feed_id,
                        url=new.url,
                        status=change,
                        since=(new.failing_since or now) if change == "broken" else now,
                        last_error=new.last_error if change == "broken" else None,
                        changed_at=utcnow(),
                    ),
                )
        except Exception:  # health reporting must not fail the poll (its state is stored)
            log.exception("could not report the poll of %s", new.feed_id)

    async def _move(self, state: FeedState, fetched: FetchResult) -> FeedState:
        """A permanent redirect: FeedMoved on feed-health, then the subscription re-announced
        with the new URL and the same feed id (so its seen-state stays with it)."""
        target = fetched.permanent_redirect or fetched.url
        subscription = FeedSubscribed(
            feed_id=state.feed_id,
            url=target,
            interval_seconds=state.interval_seconds,
            backfill=state.backfill,
            subscribed_at=state.subscribed_at,
            paused=state.paused,
        )
        new_url = str(subscription.url)
        if new_url == state.url:
            return state
        try:
            await self.runtime.publish(
                FEED_HEALTH,
                state.feed_id,
                FeedMoved(
                    feed_id=state.feed_id,
                    old_url=state.url,
                    new_url=new_url,
                    http_status=301,
                    moved_at=utcnow(),
                ),
            )
            await self.runtime.publish(FEEDS, state.feed_id, subscription)
        except Exception:
            log.exception("could not announce the move of %s", state.feed_id)
            return state  # try again on the next poll
        log.warning("feed %s moved permanently: %s → %s", state.feed_id, state.url, new_url)
        return moved(state, new_url)

    # --- WebSub -------------------------------------------------------------------------------
    async def _maybe_subscribe(self, feed_id: str, fetched: FetchResult) -> None:
        found = websub.discover(fetched.body, dict(fetched.headers), feed_url=fetched.url)
        state = self._state(feed_id)
        if found is None or state is None:
            return
        lease = self.options.websub_lease_seconds
        until = state.websub_lease_until.timestamp() if state.websub_lease_until else None
        same = state.websub_hub == found.hub and state.websub_topic == found.topic
        if same and not websub.needs_renewal(until, lease, time.time()):
            return
        master = self.options.websub_secret.get_secret_value()  # type: ignore[union-attr]
        base = self.options.websub_callback_base_url or ""
        try:
            await websub.subscribe(
                self.fetcher.session,
                hub=found.hub,
                topic=found.topic,
                callback=websub.callback_url(base, master, feed_id, found.topic),
                secret=websub.feed_secret(master, feed_id),
                lease_seconds=lease,
            )
        except websub.WebSubError as exc:
            log.warning("WebSub subscription of %s failed: %s", feed_id, exc)
            await self.runtime.report_error("websub_subscribe_failed", f"{feed_id}: {exc}")
            return
        log.info("asked hub %s for pushes of %s (%s)", found.hub, feed_id, found.topic)
        current = self._state(feed_id) or state
        await self._store(
            websub_requested(current, hub=found.hub, topic=found.topic, lease_seconds=lease, now=utcnow())
        )

    async def _record_lease(self, request: PollRequest) -> None:
        state = self._state(request.feed_id)
        if state is not None and request.lease_seconds:
            await self._store(websub_granted(state, lease_seconds=request.lease_seconds, now=utcnow()))

    # --- storage ----------------------------------------------------------------------------
    def _latest(self, polled: FeedState) -> FeedState:
        """The state to apply a poll's outcome to: the table's current one, which may carry a
        subscription change made while the poll ran (only polls change the seen ids)."""
        current = self._state(polled.feed_id)
        return current if current is not None and current.generation == polled.generation else polled

    async def _store(self, state: FeedState) -> None:
        """Write the table entry (into the feed's own partition) and wait until its changelog
        record is acknowledged: the seen-state is durable before anything relies on it."""
        raw = state.to_table()
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.discard(state.feed_id)
        await self.feeds.put_durably(state.feed_id, raw, partition=state.partition)
        if not self._heap_stale:
            self._track(state)

    def _keep(self, state: FeedState) -> None:
        """Write the table entry without waiting: for stream handlers, whose offset commit waits
        for the broker's acknowledgement instead (one wait per commit, not per record)."""
        raw = state.to_table()
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.discard(state.feed_id)
        self.feeds.put(state.feed_id, raw, partition=state.partition)
        if not self._heap_stale:
            self._track(state)

    def _remember(self, state: FeedState) -> bool:
        """Hold a timing-only state in memory, on top of the table's value (`_state` returns it
        while that value stands; a subscription change builds on it). False if the feed has no
        table value to stand on (then store it)."""
        raw = self._table_value(state.feed_id)
        if not raw:
            return False
        self._validated[state.feed_id] = (raw, state)
        self._unflushed.add(state.feed_id)
        if not self._heap_stale:
            self._track(state)
        return True

    async def flush_timing(self) -> None:
        """Write the timing-only states to the table (not awaited one by one: the next offset
        commit confirms them), so a restart or the next owner schedules from recent times."""
        feed_ids, self._unflushed = self._unflushed, set()
        owned = self._owned
        for feed_id in feed_ids:
            state = self._state(feed_id)
            if state is not None and feed_id in owned:
                self._keep(state)

    async def _close(self, app: Any, **kwargs: Any) -> None:
        """At shutdown: hand the held FeedPolled reports to the producer, write the timing-only
        states and wait for the broker (faust has stopped the table by now and stops the producer
        right after this, see `DurableTable.settle`)."""
        await self.runtime.flush_reports()
        await self.flush_timing()
        await self.feeds.settle(wait_seconds=10.0)
        await self.fetcher.aclose()
