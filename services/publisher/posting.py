"""The posting workflow (issue 4): admit → (hold | queue) → per-account worker → intent → call →
result → event. I/O lives here; the decisions it follows are pure functions in `routing`, `render`,
`policy`, `ledger` and `flow`.

At-least-once, never twice, never lost — how the pieces fit:

1. `admit` runs in the FEED_ITEMS handler (faust agent, concurrency 1). For each route target it
   reads the ledger: posted/failed/dropped → acknowledged without a call (its event re-sent if the
   process stopped before sending it); held → nothing; queued/intent → put back on the lane. A new
   post is rendered, checked by the policy and written as `held` (PostHeld) or `queued`, and the
   handler awaits the broker's acknowledgement of that record before it returns, i.e. before its
   offset can be committed. So once Kafka forgets the item, the ledger remembers it.
2. One `AccountLane` + worker task per `kind:account` posts the queued entries, urgent first,
   respecting the account's rate limit and spacing (`flow`). Before the call the policy is checked
   again (quiet hours may have begun, the cost cap may be reached) and an `intent` is written
   durably; after it the result. A 429 puts the post back on the lane and blocks the account
   until the reset: nothing lost, nothing early. Transient errors retry with exponential backoff
   and jitter; after `max_attempts` → PostFailed(retryable) and the dead-letter topic. Permanent
   errors → PostFailed with the API's reason; X's duplicate answer is final.
3. An intent without a result (a crash or a timeout during the call) is resolved, never posted
   blindly: `find_recent(link)` on the account; found → posted + PostPublished; not found or
   cannot tell → a channel with an idempotency key (Mastodon) is retried with the *same* key;
   anything else (X) is held with rule `unconfirmed` and ops are alerted.
4. A timer (`sweep`) re-queues `queued`/`intent` entries that are on no lane (after a restart or a
   rebalance, once recovery is over), releases held posts whose `release_at` has come, and tells
   what was recorded but never told: a posted/failed/held/dropped entry whose event was not sent (a stop
   between the ledger record and its event; the item's offset was committed long before, so no
   redelivery would ever send it). The ledger is the outbox, the sweep its relay: outcome events
   are at-least-once, like every Herald event.
5. `decide` handles PostDecisionRequested (approve → queued, urgent, policy skipped; drop →
   dropped), from the CLI or the admin HTTP API.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from faust import current_event

from services.publisher.channels import (
    Channel,
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    TransientPostError,
)
from services.publisher.config import PublisherConfig
from services.publisher.flow import AccountLane
from services.publisher.ledger import Decision, LedgerEntry, LedgerState, PostingLedger, decide, ledger_key
from services.publisher.lengths import rules_for
from services.publisher.policy import Candidate, Hold, SpendBook, evaluate, post_cost
from services.publisher.render import RenderError, render_route
from services.publisher.retry import RetryPolicy
from services.publisher.routing import Item, Route, default_routes, routes_for, with_utm
from shared.envelope import CLOUDEVENTS_CONTENT_TYPE, wrap
from shared.events import (
    FeedItemDiscovered,
    FeedItemUpdated,
    PostApproved,
    PostDecisionRequested,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
)
from shared.runtime import DLQ_HEADER_PREFIX, ServiceRuntime
from shared.topics import FEED_ITEMS, POSTS, dead_letter

log = logging.getLogger(__name__)

#: How long a recorded outcome may wait for its event before the sweep sends it.
UNTOLD_GRACE_SECONDS = 10.0

#: Channel kinds whose API de-duplicates a retried request by its idempotency key.
IDEMPOTENT_KINDS = frozenset({"mastodon"})


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_from(entry: LedgerEntry) -> Item:
    data = entry.item or {}
    if entry.item_type == FeedItemUpdated.event_type:
        return FeedItemUpdated.model_validate(data)
    return FeedItemDiscovered.model_validate(data)


class Poster:
    """Admits items, runs one worker per channel account, resolves the unsure, obeys commands."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        config: PublisherConfig,
        retry: RetryPolicy,
        *,
        default_target: str,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.config = config
        self.retry = retry
        self.routes = config.routes or default_routes(default_target)
        self.spend = SpendBook(zone=config.policy.zone)
        self._spend_built = False
        self.lanes: dict[str, AccountLane] = {
            target: AccountLane(
                target,
                spacing=config.flow.spacing_for(target),
                margin=config.flow.reset_margin_seconds,
            )
            for target in channels
        }
        self._busy: set[str] = set()
        self._delayed: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle --------------------------------------------------------------------------
    def start_workers(self) -> None:
        for lane in self.lanes.values():
            self._tasks.append(asyncio.ensure_future(self._run_lane(lane)))

    async def stop_workers(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def queue_sizes(self) -> dict[str, int]:
        return {target: len(lane) for target, lane in self.lanes.items()}

    # --- 1. admission (FEED_ITEMS handler) --------------------------------------------------
    async def admit(self, item: Item, partition: int | None = None) -> None:
        """Every route of the item; one route's trouble does not stop the others."""
        if partition is None:
            event = current_event()
            partition = event.message.partition if event is not None else None
        for route in routes_for(item, self.routes):
            try:
                await self._admit_route(item, route, partition)
            except Exception as exc:
                log.exception("admitting %s to %s failed", item.item_id, route.target)
                await self.runtime.report_error(
                    "admit_failed", f"{item.item_id} → {route.target}: {type(exc).__name__}: {exc}"
                )

    async def _admit_route(self, item: Item, route: Route, partition: int | None) -> None:
        channel = self.channels.get(route.target)
        revision = item.content_hash[:16] if isinstance(item, FeedItemUpdated) else None
        if channel is None:
            key = ledger_key(item.item_id, route.kind, route.account, revision)
            if self.ledger.get(key) is None:
                entry = self._new_entry(item, route, "", partition).to_state(
                    LedgerState.FAILED,
                    error_code="no_channel",
                    reason=f"route {route.config.name or '?'} names {route.target}, which has no account",
                    retryable=False,
                    attempts=1,
                )
                await self.ledger.record(key, entry)
                await self._emit(key, entry, channel=None)
            return
        key = ledger_key(item.item_id, channel.name, channel.account, revision)
        entry = self.ledger.get(key)
        decision = decide(entry)
        if entry is not None and decision is not Decision.POST:
            await self._resume(key, entry, decision, channel)
            return
        try:
            text = render_route(item, route, kind=route.kind)
        except RenderError as exc:
            failed = self._new_entry(item, route, "", partition).to_state(
                LedgerState.FAILED, error_code="unrenderable", reason=str(exc), retryable=False, attempts=1
            )
            await self.ledger.record(key, failed)
            await self._emit(key, failed, channel)
            return
        queued = self._new_entry(item, route, text, partition)
        if entry is not None:  # a retryable failure replayed from the dead-letter topic
            queued = queued.to_state(LedgerState.QUEUED, attempts=0)
        hold = evaluate(self._candidate(queued), self.config.policy, _now())
        if hold is not None:
            await self._hold(key, queued, hold, channel)
            return
        await self.ledger.record(key, queued)  # durable before this record's offset can be committed
        self._enqueue(key, queued)

    def _new_entry(self, item: Item, route: Route, text: str, partition: int | None) -> LedgerEntry:
        return LedgerEntry.queued(
            text,
            target=route.target,
            partition=partition,
            item=item.model_dump(mode="json"),
            item_type=item.event_type,
            urgent=route.urgent,
            link=with_utm((item.link or "").strip(), route.config.utm) or None,
        )

    async def _resume(self, key: str, entry: LedgerEntry, decision: Decision, channel: Channel) -> None:
        """A redelivered item whose ledger entry already says something."""
        if decision in (Decision.ALREADY_POSTED, Decision.ALREADY_FAILED, Decision.HELD, Decision.DROPPED):
            log.info("%s already %s: acknowledged without a call", key, entry.state)
            if not entry.event_sent:
                await self._emit(key, entry, channel)
            return
        # queued or intent: its lane has it, or gets it now (an intent is resolved there)
        self._enqueue(key, entry)

    def _enqueue(self, key: str, entry: LedgerEntry) -> None:
        lane = self.lanes.get(entry.target)
        if lane is None or key in self._busy or key in self._delayed:
            return
        lane.put(key, urgent=entry.urgent or entry.state is LedgerState.INTENT)

    # --- 2. the per-account workers ---------------------------------------------------------
    async def _run_lane(self, lane: AccountLane) -> None:
        while True:
            key = await lane.next_job()
            self._busy.add(key)
            try:
                await self.process(key, lane)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad item never stops the account's worker
                log.exception("posting %s failed unexpectedly", key)
                await self.runtime.report_error("post_error", f"{key}: {type(exc).__name__}: {exc}")
            finally:
                self._busy.discard(key)

    async def process(self, key: str, lane: AccountLane) -> None:
        entry = self.ledger.get(key)
        if entry is None:
            return
        channel = self.channels[entry.target]
        if entry.state is LedgerState.INTENT:
            await self.resolve(key, entry, channel, lane)
            return
        if entry.state is not LedgerState.QUEUED:
            return  # decided meanwhile (dropped, posted by an earlier job)
        hold = evaluate(self._candidate(entry), self.config.policy, _now(), self.spend)
        if hold is not None:
            await self._hold(key, entry, hold, channel)
            return
        intent = entry.to_state(LedgerState.INTENT, attempts=entry.attempts + 1)
        # Durable before the call: a crash during the call leaves an intent, never a blind re-post.
        await self.ledger.record(key, intent)
        try:
            result = await self._call(channel, key, intent)
        except TransientPostError as exc:
            _note_limits(lane, getattr(exc, "rate_limit", None))
            if exc.maybe_sent:  # no answer: it may have gone out
                log.warning("%s: no answer (%s): resolving before anything else", key, exc.reason)
                await self.resolve(key, intent, channel, lane)
                return
            await self._transient(key, intent, exc, lane)
            return
        except DuplicatePostError as exc:
            await self._final_failure(key, intent, exc.code, exc.reason, channel)
            return
        except PermanentPostError as exc:
            await self._final_failure(key, intent, exc.code, exc.reason, channel)
            return
        lane.sent()
        _note_limits(lane, getattr(result, "rate_limit", None))
        await self._posted(key, intent, result.post_id, result.post_url, result.dry_run, channel)

    async def _call(self, channel: Channel, key: str, entry: LedgerEntry) -> PostResult:
        outgoing = OutgoingPost.from_item(entry.text, item_from(entry), idempotency_key=key)
        if entry.link is not None:  # the link as posted (UTM added)
            outgoing = replace(outgoing, link=entry.link)
        return await channel.post(outgoing)

    async def _transient(
        self, key: str, intent: LedgerEntry, exc: TransientPostError, lane: AccountLane
    ) -> None:
        if exc.retry_at is not None:
            # The service said when: the whole account waits, this post keeps its place, and the
            # call it refused does not count as an attempt.
            lane.block_until(exc.retry_at)
            back = intent.to_state(LedgerState.QUEUED, attempts=intent.attempts - 1)
            await self.ledger.record(key, back)
            log.warning("%s: %s; account %s waits until %.0f", key, exc.reason, lane.target, exc.retry_at)
            lane.put(key, urgent=back.urgent, first=True)
            return
        if intent.attempts >= self.retry.max_attempts:
            failed = intent.to_state(
                LedgerState.FAILED,
                error_code=exc.code,
                reason=exc.reason,
                retryable=True,
            )
            await self.ledger.record(key, failed)
            await self._emit(key, failed, self.channels[intent.target])
            await self._dead_letter(
                key, failed, f"{intent.target}: {exc.reason} after {intent.attempts} tries"
            )
            return
        delay = self.retry.backoff(intent.attempts, random)
        back = intent.to_state(LedgerState.QUEUED)
        await self.ledger.record(key, back)
        log.warning(
            "%s attempt %d failed (%s: %s); again in %.1fs", key, intent.attempts, exc.code, exc.reason, delay
        )
        self._delayed.add(key)

        def again() -> None:
            self._delayed.discard(key)
            lane.put(key, urgent=back.urgent)

        asyncio.get_running_loop().call_later(delay, again)

    async def _final_failure(
        self, key: str, intent: LedgerEntry, code: str, reason: str, channel: Channel
    ) -> None:
        failed = intent.to_state(LedgerState.FAILED, error_code=code, reason=reason, retryable=False)
        await self.ledger.record(key, failed)
        log.warning("%s not posted: %s (final)", key, reason)
        await self._emit(key, failed, channel)

    async def _posted(
        self,
        key: str,
        entry: LedgerEntry,
        post_id: str,
        post_url: str | None,
        dry_run: bool,
        channel: Channel,
    ) -> None:
        cost = 0.0 if dry_run else post_cost(entry.target, bool(entry.link), self.config.policy)
        done = replace(
            entry.posted(
                post_id=post_id, post_url=post_url, dry_run=dry_run, attempts=max(entry.attempts, 1)
            ),
            cost=cost,
        )
        await self.ledger.record(key, done)
        self.spend.add(entry.target, cost, _now())
        log.info("posted %s as %s", key, post_id)
        await self._emit(key, done, channel)

    # --- 3. intents without a result --------------------------------------------------------
    async def resolve(self, key: str, entry: LedgerEntry, channel: Channel, lane: AccountLane) -> None:
        """Look for the post; found → posted; else same-key retry (Mastodon) or hold (X)."""
        link = entry.link
        found = None
        if link and hasattr(channel, "find_recent"):
            try:
                found = await channel.find_recent(link)  # type: ignore[attr-defined]
            except Exception as exc:  # cannot tell: treated like "not found" below
                log.warning("%s: cannot look at %s's recent posts: %s", key, entry.target, exc)
        if found is not None:
            log.info("%s: found on %s as %s after an unanswered call", key, entry.target, found.post_id)
            await self._posted(key, entry, found.post_id, found.post_url, found.dry_run, channel)
            return
        kind = entry.target.partition(":")[0]
        if getattr(channel, "idempotent", kind in IDEMPOTENT_KINDS):
            back = entry.to_state(LedgerState.QUEUED)
            await self.ledger.record(key, back)
            log.warning("%s: not found; retrying with the same idempotency key", key)
            lane.put(key, urgent=True)
            return
        hold = Hold(
            "unconfirmed",
            "a post was attempted but its result is unknown and it was not found on the account; "
            "check the account and approve or drop it",
            None,
        )
        await self._hold(key, entry, hold, channel)
        await self.runtime.report_error(
            "post_unconfirmed", f"{key}: {hold.reason}. Not re-posted; held for a person."
        )

    # --- 4. the sweep: rebuild lanes, release held posts ------------------------------------
    def can_sweep(self) -> bool:
        app = self.runtime.app
        return bool(
            self.runtime.ready
            and not getattr(app, "rebalancing", False)
            and not getattr(app, "in_recovery", False)
        )

    def _assigned(self) -> set[int] | None:
        try:
            topic = self.runtime.settings.topic_namespace + FEED_ITEMS.name
            return {tp.partition for tp in self.runtime.app.consumer.assignment() if tp.topic == topic}
        except Exception:
            return None

    async def sweep(self) -> None:
        """Re-queue what no lane holds; release held posts whose time has come."""
        if not self.can_sweep():
            return
        assigned = self._assigned()
        entries = self.ledger.entries()
        if not self._spend_built:
            for _, entry in entries:
                if entry.state is LedgerState.POSTED and entry.cost and entry.posted_at:
                    self.spend.add(entry.target, entry.cost, datetime.fromisoformat(entry.posted_at))
            self._spend_built = True
        now = _now()
        for key, entry in entries:
            if assigned is not None and entry.partition is not None and entry.partition not in assigned:
                continue
            if self._untold(key, entry, now):
                log.info("%s: %s but its event was never sent; sending it now", key, entry.state)
                await self._emit(key, entry, self.channels.get(entry.target))
                continue
            lane = self.lanes.get(entry.target)
            if lane is None or key in lane:
                continue
            if entry.state in (LedgerState.QUEUED, LedgerState.INTENT):
                self._enqueue(key, entry)
            elif entry.state is LedgerState.HELD and entry.release_at:
                if datetime.fromisoformat(entry.release_at) <= now:
                    released = entry.to_state(LedgerState.QUEUED, rule=None, release_at=None)
                    await self.ledger.record(key, released)
                    log.info("%s released (%s over)", key, entry.rule)
                    self._enqueue(key, released)
        self.runtime.heartbeat_detail["queued"] = ",".join(
            f"{target}={size}" for target, size in self.queue_sizes().items()
        )

    def _untold(self, key: str, entry: LedgerEntry, now: datetime) -> bool:
        """A recorded outcome whose event was not sent and that no task is about to send.

        A writer records the state, then sends the event; the grace period keeps the sweep out of
        that short window (and off a record still waiting for the broker)."""
        if entry.event_sent or key in self._busy:
            return False
        if entry.state not in (LedgerState.POSTED, LedgerState.FAILED, LedgerState.HELD, LedgerState.DROPPED):
            return False
        try:
            updated = datetime.fromisoformat(entry.updated_at)
        except ValueError:
            return True
        return (now - updated).total_seconds() >= UNTOLD_GRACE_SECONDS

    # --- 5. decisions by a person -----------------------------------------------------------
    async def decide(self, command: PostDecisionRequested, partition: int | None = None) -> None:
        if partition is None:
            event = current_event()
            partition = event.message.partition if event is not None else None
        wanted = f"{command.channel}:{command.account}"
        matched = [
            (key, entry)
            for key, entry in self.ledger.item_entries(command.item_id)
            if command.channel in ("", "*")
            or wanted in (entry.target, key.split("|")[1] if "|" in key else "")
        ]
        held = [(key, entry) for key, entry in matched if entry.state is LedgerState.HELD]
        if not held:
            states = ", ".join(f"{key}={entry.state}" for key, entry in matched) or "no ledger entry"
            message = f"{command.action} {command.item_id} {wanted}: nothing held ({states})"
            log.warning(message)
            await self.runtime.report_error("decision_ignored", message)
            return
        for key, entry in held:
            if entry.partition is None and partition is not None:
                entry = replace(entry, partition=partition)
            channel = self.channels.get(entry.target)
            if command.action == "drop":
                dropped = entry.to_state(
                    LedgerState.DROPPED,
                    reason=command.reason or "dropped by a person",
                    dropped_by=command.requested_by,
                )
                await self.ledger.record(key, dropped)
                await self._emit(key, dropped, channel)
                continue
            text = command.text if command.text is not None else entry.text
            rules = rules_for(entry.target.partition(":")[0])
            if not rules.fits(text):
                message = (
                    f"approve {key}: the new text does not fit on {entry.target} "
                    f"({rules.length(text)} > {rules.limit}); still held"
                )
                log.warning(message)
                await self.runtime.report_error("decision_rejected", message)
                continue
            approved = entry.to_state(
                LedgerState.QUEUED,
                text=text,
                approved=True,
                approved_by=command.requested_by,
                urgent=True,
                rule=None,
                release_at=None,
            )
            await self.ledger.record(key, approved)
            await self._publish(
                PostApproved(
                    item_id=command.item_id,
                    channel=_kind(channel, entry),
                    account=_account(channel, entry),
                    approved_by=command.requested_by,
                    text=text,
                    edited=text != entry.text,
                    approved_at=_now(),
                ),
                key,
                approved,
            )
            self._enqueue(key, approved)

    def held(self) -> list[dict[str, Any]]:
        """Held posts this worker holds, for `GET /posts/held`."""
        rows = []
        for key, entry in self.ledger.entries():
            if entry.state is not LedgerState.HELD:
                continue
            item = entry.item or {}
            kind, _, account = entry.target.partition(":")
            rows.append(
                {
                    "item_id": key.split("|")[0],
                    "key": key,
                    "channel": kind,
                    "account": account,
                    "target": entry.target,
                    "rule": entry.rule,
                    "reason": entry.reason,
                    "text": entry.text,
                    "title": item.get("title", ""),
                    "link": item.get("link"),
                    "release_at": entry.release_at,
                    "held_at": entry.updated_at,
                }
            )
        return sorted(rows, key=lambda row: row["held_at"])

    # --- events -----------------------------------------------------------------------------
    def _candidate(self, entry: LedgerEntry) -> Candidate:
        item = entry.item or {}
        return Candidate(
            target=entry.target,
            feed_id=item.get("feed_id", ""),
            feed_url=item.get("feed_url", ""),
            title=item.get("title", ""),
            summary=item.get("summary", ""),
            text=entry.text,
            has_link=bool(entry.link),
            approved=entry.approved,
        )

    async def _hold(self, key: str, entry: LedgerEntry, hold: Hold, channel: Channel | None) -> None:
        held = entry.held(rule=hold.rule, reason=hold.reason, release_at=_iso(hold.release_at))
        await self.ledger.record(key, held)
        log.info("%s held (%s): %s", key, hold.rule, hold.reason)
        await self._emit(key, held, channel)

    async def _emit(self, key: str, entry: LedgerEntry, channel: Channel | None) -> None:
        """The event for a recorded state, then mark the ledger entry as told."""
        item = entry.item or {}
        item_id = key.split("|")[0]
        kind, account = _kind(channel, entry), _account(channel, entry)
        now = _now()
        payload: PostPublished | PostFailed | PostHeld | PostDropped
        if entry.state is LedgerState.DROPPED:
            payload = PostDropped(
                item_id=item_id,
                channel=kind,
                account=account,
                dropped_by=entry.dropped_by or "unknown",
                reason=entry.reason or "",
                dropped_at=datetime.fromisoformat(entry.updated_at) if entry.updated_at else now,
            )
        elif entry.state is LedgerState.POSTED and entry.post_id is not None:
            payload = PostPublished(
                item_id=item_id,
                channel=kind,
                account=account,
                post_id=entry.post_id,
                post_url=entry.post_url,
                text=entry.text,
                title=item.get("title", ""),
                link=item.get("link"),
                dry_run=entry.dry_run,
                published_at=now,
            )
        elif entry.state is LedgerState.HELD:
            payload = PostHeld(
                item_id=item_id,
                channel=entry.target.partition(":")[0] or kind,
                account=account,
                rule=entry.rule or "unknown",
                reason=entry.reason or "",
                text=entry.text,
                title=item.get("title", ""),
                link=item.get("link"),
                release_at=datetime.fromisoformat(entry.release_at) if entry.release_at else None,
                held_at=now,
            )
        else:
            payload = PostFailed(
                item_id=item_id,
                channel=kind,
                account=account,
                reason=entry.reason or "unknown",
                error_code=entry.error_code or "unknown",
                retryable=entry.retryable,
                attempts=max(entry.attempts, 1),
                title=item.get("title", ""),
                link=item.get("link"),
                failed_at=now,
            )
        await self._publish(payload, key, entry)

    async def _publish(self, payload: Any, key: str, entry: LedgerEntry) -> None:
        await self.runtime.publish(POSTS, key.split("|")[0], payload)
        self.ledger.note(key, entry.with_event_sent())

    async def _dead_letter(self, key: str, entry: LedgerEntry, reason: str) -> None:
        """The item, as an event, on the publisher's dead-letter topic (replayable to FEED_ITEMS)."""
        envelope = wrap(item_from(entry), source=self.runtime.source)
        headers = [
            ("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()),
            ("ce_type", envelope.type.encode()),
            (f"{DLQ_HEADER_PREFIX}reason", reason.encode()),
            (f"{DLQ_HEADER_PREFIX}service", self.runtime.service.encode()),
            (f"{DLQ_HEADER_PREFIX}topic", (self.runtime.settings.topic_namespace + FEED_ITEMS.name).encode()),
            (f"{DLQ_HEADER_PREFIX}ledger-key", key.encode()),
        ]
        try:
            pending = await self.runtime.topic(dead_letter(self.runtime.service)).send(
                key=key.split("|")[0].encode(), value=envelope.to_bytes(), headers=headers
            )
            await pending
        except Exception:
            log.exception("could not dead-letter %s", key)
        await self.runtime.report_error("dead_lettered", f"{key}: {reason}")


# --- small helpers -----------------------------------------------------------------------------
def _kind(channel: Channel | None, entry: LedgerEntry) -> str:
    return channel.name if channel is not None else entry.target.partition(":")[0]


def _account(channel: Channel | None, entry: LedgerEntry) -> str:
    return channel.account if channel is not None else entry.target.partition(":")[2]


def _note_limits(lane: AccountLane, limit: Any) -> None:
    if limit is not None:
        lane.note_rate_limit(getattr(limit, "remaining", None), getattr(limit, "reset_at", None))
