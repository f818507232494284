"""One poll of one feed: fetch (or take the pushed body) → parse → decide → publish → store →
report.

A poll publishes each new item (`FeedItemDiscovered`) and each changed one (`FeedItemUpdated`)
to `herald.feed-items`, and only once every broker ack is in stores the new seen-state (waiting
for that changelog record's ack too): a crash between the two re-announces at most those items
once (the publisher's ledger absorbs that), never loses one. Then the outcome goes to
`herald.ops.feed-health` (`reporting`). A feed is never polled twice at once: a ping or push
that arrives mid-poll runs right after it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections import Counter

from services.feed_ingest.decide import Decision, decide, remember, settle_fingerprints
from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher, FetchResult
from services.feed_ingest.hub_leases import HubLeases
from services.feed_ingest.item_events import ItemPublisher
from services.feed_ingest.parse import ParsedFeed, parse_feed
from services.feed_ingest.reporting import Failure, PollReporter
from services.feed_ingest.schedule import SchedulePolicy
from services.feed_ingest.state import (
    FeedState,
    PollRequest,
    after_not_modified,
    after_success,
    moved,
    utcnow,
)
from services.feed_ingest.subscriptions import Subscriptions
from shared.events import FeedMoved, FeedSubscribed
from shared.runtime import ServiceRuntime
from shared.topics import FEED_HEALTH, FEEDS

log = logging.getLogger(__name__)

#: Bodies up to this size are parsed on the event loop (see `Poller._parse`).
INLINE_PARSE_BYTES = 64 * 1024


class Poller:
    """Runs polls; `hubs` is None when WebSub is off."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        subscriptions: Subscriptions,
        fetcher: FeedFetcher,
        policy: SchedulePolicy,
        rand: random.Random,
        *,
        items: ItemPublisher,
        reporter: PollReporter,
        hubs: HubLeases | None,
        poll_counts: Counter[str],
    ) -> None:
        self.runtime = runtime
        self.subscriptions = subscriptions
        self.fetcher = fetcher
        self.policy = policy
        self.random = rand
        self.items = items
        self.reporter = reporter
        self.hubs = hubs
        self.poll_counts = poll_counts
        self._polling: set[str] = set()
        self._again: dict[str, PollRequest] = {}  # ping/push that came in mid-poll

    def is_polling(self, feed_id: str) -> bool:
        return feed_id in self._polling

    async def run_poll(self, request: PollRequest) -> None:
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
        """A poll that raises is a Herald bug; the feed still gets an outcome: backed off, stored,
        a FeedPolled with kind `internal` on feed health and an ops error, so nothing goes silent."""
        started = time.monotonic()
        try:
            await self.poll(request)
        except Exception as exc:
            log.exception("poll of %s failed", request.feed_id)
            state = self.subscriptions.state(request.feed_id)
            if state is None or not state.active:
                await self.runtime.report_error("poll_crashed", f"{request.feed_id}: {type(exc).__name__}")
                return
            # The type only: feed health is a public topic, and an exception's text is not vetted.
            reason = f"Herald could not complete this poll ({type(exc).__name__}); the worker's log says why"
            failure = Failure("internal", reason)
            await self.reporter.failed(state, failure, _trigger(request, state), started)

    async def poll(self, request: PollRequest) -> None:
        """Fetch (or take the pushed body) → parse → decide → publish → remember → report."""
        state = self.subscriptions.state(request.feed_id)
        if state is None or not state.schedulable:
            return  # unsubscribed or paused
        if (
            request.reason == "schedule"
            and request.generation is not None
            and state.generation != request.generation
        ):
            return  # already polled since the request was made
        trigger = _trigger(request, state)
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
                    self.subscriptions.latest(state),
                    http_status=fetched.http_status,
                    etag=fetched.etag,
                    last_modified=fetched.last_modified,
                    now=utcnow(),
                    policy=self.policy,
                    rand=self.random.random(),
                    max_age=fetched.min_next_poll_seconds,
                )
                await self.reporter.finish(state, new, fetched.url, trigger, started)
                return
            parsed = await self._parse(fetched, state.feed_id)
        except FeedError as exc:
            await self.reporter.failed(state, exc, trigger, started)
            return
        await self._apply(state, fetched, parsed, trigger, started, pushed=pushed)
        if not pushed and self.hubs is not None:
            await self.hubs.maybe_subscribe(state.feed_id, fetched)

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
        new_sent = await self.items.publish_new(state, decision.emit)
        updates_sent = (
            await self.items.publish_updates(state, decision.updates) if new_sent == len(decision.emit) else 0
        )
        if new_sent < len(decision.emit) or updates_sent < len(decision.updates):
            await self._partial(state, fetched, parsed, decision, new_sent, updates_sent, trigger, started)
            return
        new = after_success(
            self.subscriptions.latest(state),
            seen=decision.seen,
            fingerprints=decision.fingerprints,
            emitted=new_sent,
            updated=updates_sent,
            http_status=fetched.http_status,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            now=utcnow(),
            policy=self.policy,
            rand=self.random.random(),
            max_age=fetched.min_next_poll_seconds,
            keep_validators=pushed,
        )
        if fetched.permanent_redirect and fetched.permanent_redirect_status and not pushed:
            new = await self._move(new, fetched.permanent_redirect, fetched.permanent_redirect_status)
        await self.reporter.finish(
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
        error = Failure(
            "publish_failed",
            f"{len(unsent) + len(unsent_updates)} of {total} item events not published; retrying next poll",
            fetched.http_status,
        )
        await self.reporter.failed(state, error, trigger, started, seen=seen, fingerprints=prints)

    async def _move(self, state: FeedState, target: str, http_status: int) -> FeedState:
        """A permanent redirect (`http_status`, as the server sent it): FeedMoved on feed-health,
        then the subscription re-announced with the new URL and the same feed id (so its
        seen-state stays with it)."""
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
                    http_status=http_status,
                    moved_at=utcnow(),
                ),
            )
            await self.runtime.publish(FEEDS, state.feed_id, subscription)
        except Exception:
            log.exception("could not announce the move of %s", state.feed_id)
            return state  # try again on the next poll
        log.warning("feed %s moved permanently: %s → %s", state.feed_id, state.url, new_url)
        return moved(state, new_url)


def _trigger(request: PollRequest, state: FeedState) -> str:
    """What set the poll off, as FeedPolled says it: first, ping, push or schedule."""
    if not state.baseline_done:
        return "first"
    return request.reason if request.reason in ("ping", "push") else "schedule"
