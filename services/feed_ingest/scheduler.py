"""Which feeds this worker owns, and when to poll them (issue 5 §4).

Each worker keeps a heap of the feeds it owns (their herald.feeds partition is assigned to it as
active), rebuilt after every rebalance once recovery is over, so finding due feeds costs O(due
feeds), not O(all feeds). One scheduler task polls due feeds itself, `feed_poll_concurrency` at a
time: a poll needs no Kafka round trip before it starts, and the table entry it writes names the
feed's partition (`shared.tables.DurableTable`). Before partitions are revoked, polls in flight
are drained, so a feed's next owner never polls it while this worker still is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

from services.feed_ingest.poller import Poller
from services.feed_ingest.schedule import DueHeap
from services.feed_ingest.state import FeedState, PollReason, PollRequest, utcnow
from services.feed_ingest.subscriptions import Subscriptions
from shared.runtime import ServiceRuntime
from shared.tables import TableWriteError

log = logging.getLogger(__name__)

#: How long a revoke waits for polls in flight: long enough for a normal poll, short enough that
#: one slow server (up to 3 × the HTTP timeout) does not hold the group's rebalance.
REVOKE_DRAIN_SECONDS = 10.0


class Scheduler:
    """The owned feeds, their due-heap, and the task that starts their polls."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        subscriptions: Subscriptions,
        poller: Poller,
        *,
        concurrency: int,
        poll_counts: Counter[str],
    ) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.subscriptions = subscriptions
        self.poller = poller
        self.poll_counts = poll_counts  # polls done here, owned feeds only (for /feeds/owned)
        self.heap = DueHeap()
        self.stale = True  # the heap is rebuilt after (re)assignment, once recovery is over
        self.owned: set[str] = set()  # active feeds of owned partitions
        self._slots = asyncio.Semaphore(concurrency)
        self._in_flight: set[asyncio.Task[None]] = set()  # scheduled polls running
        self._wake = asyncio.Event()  # a feed became due sooner than the scheduler sleeps
        self.drain_seconds = REVOKE_DRAIN_SECONDS
        subscriptions.on_change = self._changed

    # --- ownership and the due-heap -----------------------------------------------------------
    async def on_assignment_change(self, *args: Any, **kwargs: Any) -> None:
        self.stale = True

    async def on_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Let scheduled polls in flight finish before the partitions go: their table writes name
        partitions this worker is about to lose, and the next owner must not poll those feeds
        at the same time (faust drains its agents' events the same way). A poll still running
        after `REVOKE_DRAIN_SECONDS` finishes on its own; its items are at worst announced twice,
        which the publisher's ledger absorbs."""
        self.stale = True
        if self._in_flight:
            log.info("rebalance: waiting for %d polls in flight", len(self._in_flight))
            await asyncio.wait(set(self._in_flight), timeout=self.drain_seconds)
        self.subscriptions.flush_timing(self.owned)  # the next owner schedules from the latest times
        with contextlib.suppress(TableWriteError):  # then at worst it polls a little early
            # Acknowledged before the partitions go: a flush landing after the next owner's own
            # writes would put back an older seen window.
            await self.subscriptions.table.confirm_pending(wait_seconds=5.0)

    def owned_partitions(self) -> set[int]:
        """Partitions of herald.feeds this worker owns now."""
        topic = self.subscriptions.topic_name
        return {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic}

    def rebuild(self) -> None:
        """The heap and owned set from the table, for owned partitions only; entries of other
        partitions are dropped from the memory store (`Subscriptions.keep_partitions`)."""
        owned = self.owned_partitions()
        self.heap.clear()
        self.owned.clear()
        states, dropped = self.subscriptions.keep_partitions(owned)
        for state in states:
            self._track(state)
        for feed_id in [f for f in self.poll_counts if f not in self.owned]:
            del self.poll_counts[feed_id]
        self.subscriptions.forget_all_but(self.owned)
        self.stale = False
        self.runtime.heartbeat_detail["owned_feeds"] = str(len(self.owned))
        self.runtime.heartbeat_detail["owned_partitions"] = ",".join(str(p) for p in sorted(owned))
        log.info(
            "owning partitions %s: %d feeds (%d entries of other partitions dropped)",
            sorted(owned),
            len(self.owned),
            dropped,
        )

    def _changed(self, state: FeedState) -> None:
        if not self.stale:
            self._track(state)

    def _track(self, state: FeedState) -> None:
        if state.active:
            self.owned.add(state.feed_id)
        else:
            self.owned.discard(state.feed_id)
        if state.schedulable:
            due = self.heap.next_due()
            self.heap.set(state.feed_id, state.next_poll_at)
            if due is None or state.next_poll_at < due:
                self._wake.set()  # sooner than the scheduler planned to look
        else:
            self.heap.discard(state.feed_id)
        self.runtime.heartbeat_detail["owned_feeds"] = str(len(self.owned))

    # --- scheduling -------------------------------------------------------------------------
    def may_poll(self) -> bool:
        """Not while a rebalance or table recovery runs: a half-recovered table could hold an old
        seen window."""
        return bool(
            self.runtime.ready and not self.app.rebalancing and not getattr(self.app, "in_recovery", False)
        )

    async def run(self) -> None:
        """Poll each owned feed when it is due, at most `feed_poll_concurrency` at a time."""
        while True:
            try:
                feed_id = await self._next_due_feed()
                await self._slots.acquire()
                if not self.may_poll() or self.stale:  # ownership changed while we waited
                    self._slots.release()
                    continue
                self._start_poll(feed_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the scheduler must outlive any one feed's trouble
                log.exception("poll scheduling failed")
                await asyncio.sleep(self.runtime.settings.feed_ingest.poll_tick_seconds)

    async def _next_due_feed(self) -> str:
        """Wait until an owned, schedulable feed not being polled is due; take it off the heap."""
        tick = self.runtime.settings.feed_ingest.poll_tick_seconds
        while True:
            if not self.may_poll():
                await asyncio.sleep(tick)
                continue
            if self.stale:
                self.rebuild()
            for feed_id in self.heap.pop_due(time.time(), limit=1):
                state = self.subscriptions.state(feed_id)
                if state is not None and state.schedulable and not self.poller.is_polling(feed_id):
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
        task = asyncio.ensure_future(self.poller.run_poll(request))
        self._in_flight.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._in_flight.discard(finished)
            self._slots.release()
            if not self._in_flight:  # idle: the held FeedPolled reports need not wait longer
                self.runtime.flush_reports_soon()

        task.add_done_callback(done)

    async def refresh(self, partition: int) -> int:
        """Poll every owned, schedulable feed of `partition` now (`herald feeds poll --all`),
        through the scheduler's slots, each as a "ping": a feed already being polled is polled
        again right after. Returns how many polls were started."""
        if not self.may_poll():  # no events reach agents then; but a stream may hold one
            log.warning("refresh of partition %d skipped: a rebalance is under way", partition)
            return 0
        if self.stale:
            self.rebuild()
        due = []
        for feed_id in self.owned:
            state = self.subscriptions.state(feed_id)
            if state is not None and state.schedulable and state.partition == partition:
                due.append(feed_id)
        log.info("refresh: polling the %d feeds of partition %d now", len(due), partition)
        for started, feed_id in enumerate(due):
            await self._slots.acquire()
            if not self.may_poll() or self.stale:  # ownership changed: the next owner has it
                self._slots.release()
                log.info("refresh of partition %d stopped by a rebalance after %d polls", partition, started)
                return started
            self._start_poll(feed_id, reason="ping")
        return len(due)
