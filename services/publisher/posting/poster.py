"""`Poster`: the posting workflow's parts wired together, and the few calls the app makes."""

from __future__ import annotations

import asyncio
from typing import Any

from services.publisher.channels import Channel
from services.publisher.config import PublisherConfig
from services.publisher.ledger import PostingLedger
from services.publisher.policy import SpendBook
from services.publisher.posting.admission import Admission
from services.publisher.posting.decisions import Decisions
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from services.publisher.posting.sending import Sender
from services.publisher.posting.sweep import Sweeper
from services.publisher.posting.unconfirmed import Resolver
from services.publisher.retry import RetryPolicy
from services.publisher.routing import Item, default_routes
from shared.events import PostDecisionRequested
from shared.runtime import ServiceRuntime


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
        spend = SpendBook(zone=config.policy.zone)
        self.lanes = Lanes(channels, config.flow)
        self.flow = config.flow
        self.cost_caps = set(config.policy.cost.caps)
        outcomes = Outcomes(runtime, ledger, config.policy, spend)
        self.admission = Admission(
            runtime,
            ledger,
            channels,
            routes=config.routes or default_routes(default_target),
            policy=config.policy,
            lanes=self.lanes,
            outcomes=outcomes,
        )
        self.sender = Sender(
            runtime,
            ledger,
            channels,
            policy=config.policy,
            retry=retry,
            spend=spend,
            lanes=self.lanes,
            outcomes=outcomes,
            resolver=Resolver(
                runtime,
                ledger,
                outcomes,
                self.lanes,
                retry=retry,
                settle_seconds=runtime.settings.publisher.publisher_settle_seconds,
            ),
        )
        self.sweeper = Sweeper(runtime, ledger, channels, spend=spend, lanes=self.lanes, outcomes=outcomes)
        self.decisions = Decisions(runtime, ledger, channels, lanes=self.lanes, outcomes=outcomes)
        self._tasks: list[asyncio.Task[None]] = []

    def start_workers(self) -> None:
        """`in_flight` workers per account lane: each takes the lane's next post when the account
        may send, so posts start in the lane's order and up to `in_flight` are in flight at once."""
        for lane in self.lanes:
            workers = self.flow.in_flight_for(lane.target, cost_capped=lane.target in self.cost_caps)
            self._tasks.extend(asyncio.ensure_future(self.sender.run(lane)) for _ in range(workers))

    async def stop_workers(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def admit(self, item: Item, partition: int | None = None) -> None:
        """The FEED_ITEMS handler's work: the item's entries recorded before its offset moves."""
        await self.admission.admit(item, partition)

    async def decide(self, command: PostDecisionRequested, partition: int | None = None) -> None:
        await self.decisions.decide(command, partition)

    async def sweep(self) -> None:
        await self.sweeper.sweep()

    def held(self) -> list[dict[str, Any]]:
        """Held posts this worker holds, for `GET /posts/held`."""
        return self.decisions.held()
