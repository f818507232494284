"""The sweep, on a timer: re-queue `queued`/`intent` entries that are on no lane (after a restart or
a rebalance, once recovery is over), release held posts whose `release_at` has come, and tell what
was recorded but never told (a stop between the ledger record and its event; the item's offset was
committed long before, so no redelivery would ever send it).

Only entries of the partitions this worker is assigned are swept, and only once the app is ready
and neither rebalancing nor recovering its tables.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.publisher.channels import Channel
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.policy import SpendBook
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from shared.runtime import ServiceRuntime
from shared.topics import FEED_ITEMS

log = logging.getLogger(__name__)

#: How long a recorded outcome may wait for its event before the sweep sends it.
UNTOLD_GRACE_SECONDS = 10.0

#: States whose event the sweep sends when a stop kept it from being sent.
TOLD_STATES = (LedgerState.POSTED, LedgerState.FAILED, LedgerState.HELD, LedgerState.DROPPED)


class Sweeper:
    """Rebuilds the lanes from the ledger, releases held posts, relays untold outcomes."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        *,
        spend: SpendBook,
        lanes: Lanes,
        outcomes: Outcomes,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.spend = spend
        self.lanes = lanes
        self.outcomes = outcomes
        self._spend_built = False

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
        if not self._spend_built:
            for _, entry in self.ledger.entries():
                if entry.state is LedgerState.POSTED and entry.cost and entry.posted_at:
                    self.spend.add(entry.target, entry.cost, datetime.fromisoformat(entry.posted_at))
            self._spend_built = True
        now = datetime.now(UTC)
        for key, entry in self.ledger.needing_attention(in_hand=self.lanes.in_hand):
            if assigned is not None and entry.partition is not None and entry.partition not in assigned:
                continue
            if self._untold(key, entry, now):
                log.info("%s: %s but its event was never sent; sending it now", key, entry.state)
                await self.outcomes.emit(key, entry, self.channels.get(entry.target))
                continue
            lane = self.lanes.get(entry.target)
            if lane is None or key in lane:
                continue
            if entry.state in (LedgerState.QUEUED, LedgerState.INTENT):
                self.lanes.enqueue(key, entry)
            elif entry.state is LedgerState.HELD and entry.release_at:
                if datetime.fromisoformat(entry.release_at) <= now:
                    released = entry.to_state(LedgerState.QUEUED, rule=None, release_at=None)
                    await self.ledger.record(key, released)
                    log.info("%s released (%s over)", key, entry.rule)
                    self.lanes.enqueue(key, released)
        self.runtime.heartbeat_detail["queued"] = ",".join(
            f"{target}={size}" for target, size in self.lanes.sizes().items()
        )

    def _untold(self, key: str, entry: LedgerEntry, now: datetime) -> bool:
        """A recorded outcome whose event was not sent and that no task is about to send.

        A writer records the state, then sends the event; the grace period keeps the sweep out of
        that short window (and off a record still waiting for the broker)."""
        if entry.event_sent or key in self.lanes.busy:
            return False
        if entry.state not in TOLD_STATES:
            return False
        try:
            updated = datetime.fromisoformat(entry.updated_at)
        except ValueError:
            return True
        return (now - updated).total_seconds() >= UNTOLD_GRACE_SECONDS
