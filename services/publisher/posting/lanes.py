"""The account lanes (one `flow.AccountLane` per channel account) and the posts that are on none
for now: being posted (`busy`) or waiting out a backoff (`delayed`). Putting a post on its lane
goes through `enqueue`, which knows both, so no post is ever queued twice at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from services.publisher.config import FlowConfig
from services.publisher.flow import AccountLane
from services.publisher.ledger import LedgerEntry, LedgerState


class Lanes:
    """Every account's lane, keyed `kind:account`."""

    def __init__(self, targets: Iterable[str], flow: FlowConfig) -> None:
        self.by_target: dict[str, AccountLane] = {
            target: AccountLane(
                target,
                spacing=flow.spacing_for(target),
                margin=flow.reset_margin_seconds,
            )
            for target in targets
        }
        self.busy: set[str] = set()
        self.delayed: set[str] = set()

    def __iter__(self) -> Iterator[AccountLane]:
        return iter(self.by_target.values())

    def get(self, target: str) -> AccountLane | None:
        return self.by_target.get(target)

    def sizes(self) -> dict[str, int]:
        return {target: len(lane) for target, lane in self.by_target.items()}

    def in_hand(self, key: str, target: str) -> bool:
        """Whether a post is on its lane, being posted or waiting out a backoff."""
        lane = self.by_target.get(target)
        return key in self.busy or key in self.delayed or (lane is not None and key in lane)

    def enqueue(self, key: str, entry: LedgerEntry) -> None:
        """On its account's lane, unless it is being posted or waits out a backoff (an intent goes
        first: it is resolved before anything new is sent). A post whose entry says when to try
        again (`retry_at`, across a restart) waits until then."""
        lane = self.by_target.get(entry.target)
        if lane is None or key in self.busy or key in self.delayed:
            return
        urgent = entry.urgent or entry.state is LedgerState.INTENT
        if entry.retry_at is not None and entry.state in (LedgerState.QUEUED, LedgerState.INTENT):
            wait = (datetime.fromisoformat(entry.retry_at) - datetime.now(UTC)).total_seconds()
            if wait > 0:
                self.put_later(key, lane, wait, urgent=urgent)
                return
        lane.put(key, urgent=urgent)

    def put_later(self, key: str, lane: AccountLane, delay: float, *, urgent: bool) -> None:
        """Back on `lane` after `delay` seconds; until then `enqueue` leaves it alone."""
        self.delayed.add(key)

        def again() -> None:
            self.delayed.discard(key)
            lane.put(key, urgent=urgent)

        asyncio.get_running_loop().call_later(delay, again)
