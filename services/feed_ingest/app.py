"""feed_ingest's faust app: subscriptions table, poll scheduler, poll agent (issue 3).

- `herald.feeds` → the `feeds` table (feed id → `FeedState`), written by the subscription consumer.
- A timer (every `poll_tick_seconds`) looks at the feeds this worker owns (their herald.feeds
  partition is assigned to it as active) and sends a `PollRequest` for each due one to
  `herald.internal.feed-polls`, on the same partition: faust co-partitions topics with the same
  partition count, so the same worker receives it and may write that feed's table entry.
- The poll agent fetches, parses, decides, publishes each new item to `herald.feed-items` and
  waits for the broker's ack, and only then stores the new seen-state (and waits for that
  changelog record's ack too): a crash between the two re-announces at most those items once
  (the publisher's ledger absorbs that), never loses one.

Polls run `POLL_CONCURRENCY` at a time. faust may commit a poll request's offset while another is
in flight (faust #606); losing a poll *request* is harmless: the feed is still due, so it is asked
for again. A feed is never polled twice at once: an in-flight set here, and the generation
number in each request (a request made before the last completed poll is ignored).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust
from pydantic import ValidationError

from services.feed_ingest.decide import decide, remember
from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher
from services.feed_ingest.parse import ParsedEntry, parse_feed
from services.feed_ingest.state import (
    FeedState,
    PollRequest,
    after_error,
    after_not_modified,
    after_success,
    subscribe,
    unsubscribe,
    utcnow,
)
from shared.envelope import CloudEvent
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import FEED_ITEMS, FEED_POLLS, FEEDS

log = logging.getLogger(__name__)

SERVICE = "feed_ingest"
POLL_CONCURRENCY = 8


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request is noise at scale
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    FeedIngest(runtime).install()
    return runtime


class FeedIngest:
    """The service's parts, wired onto one runtime. Nothing connects until the worker starts."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.app = runtime.app
        self.settings = runtime.settings
        self.fetcher = FeedFetcher(self.settings)
        self.feeds = self.app.Table(
            "feeds",
            default=None,
            partitions=FEEDS.partitions,
            key_type=str,
            # No value_type: JSON, and plain dicts back (value_type=dict breaks changelog recovery).
            help="feed_ingest: feed id → subscription, poll state and seen ids (FeedState as JSON).",
        )
        self.feeds_topic_name = self.settings.topic_namespace + FEEDS.name
        # feed id → monotonic deadline: a request was sent and its poll has not finished.
        self._requested: dict[str, float] = {}
        self._polling: set[str] = set()
        self._request_timeout = self.settings.http_timeout_seconds * 3 + 30

    def install(self) -> None:
        self.runtime.consumer(FEEDS)(self.on_subscription)
        self.app.agent(
            self.runtime.topic(FEED_POLLS), name=f"herald.{SERVICE}.poll", concurrency=POLL_CONCURRENCY
        )(self._poll_agent)
        self.app.timer(self.settings.poll_tick_seconds, name=f"herald.{SERVICE}.schedule")(
            self._schedule_tick
        )
        self.app.on_before_shutdown.connect(self._close)
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
            if payload.feed_id != feed_id_for(str(payload.url)):
                # Tolerated: URL parsers may spell the same URL differently; the id stays the key.
                log.warning("feed_id %s is not feed_id_for(%s)", payload.feed_id, payload.url)
            new = subscribe(existing, payload, partition=event.message.partition, now=utcnow())
            log.info("subscribed %s %s every %ss", new.feed_id, new.url, new.interval_seconds)
        else:
            new = unsubscribe(existing, payload)
            log.info("unsubscribed %s", payload.feed_id)
        if new is not None:
            await self._store(new)

    def _state(self, feed_id: str) -> FeedState | None:
        raw = self.feeds.get(feed_id)
        return FeedState.model_validate(raw) if raw else None

    # --- scheduling -------------------------------------------------------------------------
    async def _schedule_tick(self) -> None:
        try:
            await self.request_due_polls()
        except Exception:  # a timer that raises stops for good
            log.exception("poll scheduling failed")

    def owned_partitions(self) -> set[int]:
        """Partitions of herald.feeds this worker owns now (the memory store may still hold
        entries of partitions it has lost, so the table alone does not say)."""
        return {
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == self.feeds_topic_name
        }

    async def request_due_polls(self) -> int:
        """Send a poll request for each owned, active, due feed not already requested."""
        if not self.runtime.ready or self.app.rebalancing or getattr(self.app, "in_recovery", False):
            return 0  # a half-recovered table could hold an old seen window
        owned = self.owned_partitions()
        clock, now = time.monotonic(), time.time()
        for feed_id in [f for f, deadline in self._requested.items() if deadline < clock]:
            del self._requested[feed_id]
        topic = self.runtime.topic(FEED_POLLS)
        count = sent = 0
        for feed_id, raw in list(self.feeds.items()):
            if not raw or not raw.get("active") or raw.get("partition") not in owned:
                continue
            count += 1
            if raw.get("next_poll_at", 0.0) > now or feed_id in self._requested:
                continue
            request = PollRequest(feed_id=feed_id, generation=raw.get("generation", 0), requested_at=utcnow())
            self._requested[feed_id] = clock + self._request_timeout
            await topic.send(
                key=feed_id.encode(), value=request.model_dump_json().encode(), partition=raw["partition"]
            )
            sent += 1
        self.runtime.heartbeat_detail["owned_feeds"] = str(count)
        return sent

    # --- polling ----------------------------------------------------------------------------
    async def _poll_agent(self, stream: faust.StreamT) -> Any:
        async for event in stream.events():
            try:
                request = PollRequest.model_validate_json(event.value or b"")
            except ValidationError as exc:
                await self.runtime.dead_letter(event, f"not a poll request: {exc.errors()[0]['msg']}")
                continue
            if request.feed_id in self._polling:
                continue  # the same feed is being polled right now; this request is a duplicate
            self._polling.add(request.feed_id)
            try:
                await self.poll(request)
            except Exception as exc:  # a Herald bug: record it, keep the agent alive
                log.exception("poll of %s failed", request.feed_id)
                await self.runtime.report_error(
                    "poll_crashed", f"{request.feed_id}: {type(exc).__name__}: {exc}"
                )
                state = self._state(request.feed_id)
                if state is not None and state.generation == request.generation:
                    await self._store(
                        after_error(state, kind="internal", reason=str(exc), http_status=None, now=utcnow())
                    )
            finally:
                self._polling.discard(request.feed_id)
                self._requested.pop(request.feed_id, None)

    async def poll(self, request: PollRequest) -> None:
        """Fetch → parse → decide → publish → remember, for one feed (inside the agent)."""
        state = self._state(request.feed_id)
        if state is None or not state.active or state.generation != request.generation:
            return  # unsubscribed, or already polled since the request was made
        try:
            fetched = await self.fetcher.fetch(state.url, etag=state.etag, last_modified=state.last_modified)
            if fetched.status == "not_modified":
                await self._store(
                    after_not_modified(
                        self._latest(state),
                        http_status=fetched.http_status,
                        etag=fetched.etag,
                        last_modified=fetched.last_modified,
                        now=utcnow(),
                    )
                )
                return
            parsed = parse_feed(fetched.body, url=fetched.url, feed_id=state.feed_id, headers=fetched.headers)
        except FeedError as exc:
            await self._record_error(state, exc.kind, exc.reason, exc.http_status)
            return
        decision = decide(
            state.seen, parsed.entries, baseline_done=state.baseline_done, backfill=state.backfill
        )
        published = await self._publish(state, decision.emit)
        if published < len(decision.emit):
            unsent = decision.emit[published:]
            seen = remember(state.seen, parsed.entries, forget=unsent)
            reason = (
                f"{len(unsent)} of {len(decision.emit)} new items not published; retrying on the next poll"
            )
            await self._record_error(state, "publish_failed", reason, fetched.http_status, seen=seen)
            return
        await self._store(
            after_success(
                self._latest(state),
                seen=decision.seen,
                emitted=published,
                http_status=fetched.http_status,
                etag=fetched.etag,
                last_modified=fetched.last_modified,
                now=utcnow(),
            )
        )
        if decision.emit or not state.baseline_done:  # routine polls stay quiet
            log.info(
                "polled %s: %d entries, %d new%s",
                state.feed_id,
                len(parsed.entries),
                published,
                "" if state.baseline_done else " (first poll: existing items are not announced)",
            )

    async def _publish(self, state: FeedState, entries: tuple[ParsedEntry, ...]) -> int:
        """Publish in order, each acknowledged by the broker; return how many made it."""
        now = utcnow()
        for index, entry in enumerate(entries):
            try:
                await self.runtime.publish(
                    FEED_ITEMS,
                    entry.item_id,
                    entry.to_event(feed_id=state.feed_id, feed_url=state.url, discovered_at=now),
                )
            except Exception as exc:
                log.error(
                    "could not publish item %s of %s: %s: %s",
                    entry.item_id,
                    state.feed_id,
                    type(exc).__name__,
                    exc,
                )
                return index
        return len(entries)

    async def _record_error(
        self,
        state: FeedState,
        kind: str,
        reason: str,
        http_status: int | None,
        *,
        seen: list[str] | None = None,
    ) -> None:
        new = after_error(
            self._latest(state), kind=kind, reason=reason, http_status=http_status, now=utcnow(), seen=seen
        )
        retry_in = max(0.0, new.next_poll_at - time.time())
        log.warning("poll of %s failed (%s): %s; retry in %.0fs", state.feed_id, kind, reason, retry_in)
        await self._store(new)
        await self.runtime.report_error(f"feed_{kind}", f"{state.feed_id} {state.url}: {reason}")

    def _latest(self, polled: FeedState) -> FeedState:
        """The state to apply a poll's outcome to: the table's current one, which may carry a
        subscription change made while the poll ran (only polls change the seen ids)."""
        current = self._state(polled.feed_id)
        return current if current is not None and current.generation == polled.generation else polled

    async def _store(self, state: FeedState) -> None:
        """Write the table entry and wait until its changelog record is acknowledged.

        `table[k] = v` only queues the record (DESIGN.md, faust facts); flushing the producer makes
        the state durable before this event's offset can be committed."""
        self.feeds[state.feed_id] = state.to_table()
        await self.app.producer.flush()

    async def _close(self, app: Any, **kwargs: Any) -> None:
        await self.fetcher.aclose()
