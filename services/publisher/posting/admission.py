"""Admission, in the FEED_ITEMS handler (faust agent, concurrency 1): each route target of an item
is looked up in the ledger and acknowledged, resumed, held or queued.

Posted/failed/dropped → acknowledged without a call (its event re-sent if the process stopped
before sending it); held → nothing; queued/intent → put back on the lane. A new post is rendered,
checked by the policy and written as `held` (PostHeld) or `queued`, and the handler awaits the
broker's acknowledgement of that record before it returns, i.e. before its offset can be
committed. So once Kafka forgets the item, the ledger remembers it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.publisher.channels import Channel
from services.publisher.ledger import Decision, LedgerEntry, LedgerState, PostingLedger, decide, ledger_key
from services.publisher.policy import PolicyConfig, evaluate
from services.publisher.posting.entries import candidate
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from services.publisher.render import RenderError, render_route
from services.publisher.routing import Item, Route, RouteConfig, routes_for, with_utm
from shared.events import FeedItemUpdated
from shared.runtime import ServiceRuntime, current_partition

log = logging.getLogger(__name__)

#: A recorded outcome: a redelivered item meeting one is acknowledged without a call.
SETTLED = (Decision.ALREADY_POSTED, Decision.ALREADY_FAILED, Decision.HELD, Decision.DROPPED)


class Admission:
    """Turns an item into ledger entries, one per route target, durably before its offset moves."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        *,
        routes: list[RouteConfig],
        policy: PolicyConfig,
        lanes: Lanes,
        outcomes: Outcomes,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.routes = routes
        self.policy = policy
        self.lanes = lanes
        self.outcomes = outcomes

    async def admit(self, item: Item, partition: int | None = None) -> None:
        """Every route of the item; one route's trouble does not stop the others."""
        if partition is None:
            partition = current_partition()
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
                entry = _new_entry(item, route, "", partition).to_state(
                    LedgerState.FAILED,
                    error_code="no_channel",
                    reason=f"route {route.config.name or '?'} names {route.target}, which has no account",
                    retryable=False,
                    attempts=1,
                )
                await self.ledger.record(key, entry)
                await self.outcomes.emit(key, entry, channel=None)
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
            failed = _new_entry(item, route, "", partition).to_state(
                LedgerState.FAILED, error_code="unrenderable", reason=str(exc), retryable=False, attempts=1
            )
            await self.ledger.record(key, failed)
            await self.outcomes.emit(key, failed, channel)
            return
        queued = _new_entry(item, route, text, partition)
        if entry is not None:  # a retryable failure replayed from the dead-letter topic
            queued = queued.to_state(LedgerState.QUEUED, attempts=0)
        hold = evaluate(candidate(queued), self.policy, datetime.now(UTC))
        if hold is not None:
            await self.outcomes.hold(key, queued, hold, channel)
            return
        with self.outcomes.steps.labels("admit").time():
            await self.ledger.record(key, queued)  # durable before this record's offset can be committed
        self.lanes.enqueue(key, queued)

    async def _resume(self, key: str, entry: LedgerEntry, decision: Decision, channel: Channel) -> None:
        """A redelivered item whose ledger entry already says something."""
        if decision in SETTLED:
            log.info("%s already %s: acknowledged without a call", key, entry.state)
            if not entry.event_sent:
                await self.outcomes.emit(key, entry, channel)
            return
        # queued or intent: its lane has it, or gets it now (an intent is resolved there)
        self.lanes.enqueue(key, entry)


def _new_entry(item: Item, route: Route, text: str, partition: int | None) -> LedgerEntry:
    return LedgerEntry.queued(
        text,
        target=route.target,
        partition=partition,
        item=item.model_dump(mode="json"),
        item_type=item.event_type,
        urgent=route.urgent,
        link=with_utm((item.link or "").strip(), route.config.utm) or None,
    )
