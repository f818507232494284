"""Waiting for a command's outcome, on whichever worker took the HTTP request.

The worker that decides a command is the one that owns its partition of
`herald.directory.commands` (ADR 0014), not necessarily the one that received
`POST /staff/commands`. Every worker follows `herald.directory.events` from its end
(`SnapshotFollower(from_end=True)`) into this sink; a request that wants its answer registers its
request id before the command is sent, so the outcome cannot pass unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from services.directory.api_models import Decided
from shared.envelope import EventPayload
from shared.events import StaffAccountChangeRejected, StaffChanged, StaffErased

Outcome = StaffChanged | StaffErased | StaffAccountChangeRejected


class Outcomes:
    """request id → the future its waiter awaits; fed by the events follower."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Outcome]] = {}

    def apply(self, key: str, payload: EventPayload | None, *, partition: int, offset: int) -> bool:
        request_id = getattr(payload, "request_id", None)
        waiter = self._waiting.get(request_id) if isinstance(request_id, str) else None
        if waiter is None or waiter.done():
            return False
        waiter.set_result(payload)  # type: ignore[arg-type]
        return True

    @contextlib.contextmanager
    def expect(self, request_id: str) -> Any:
        """Register before sending; yields the future of the outcome (dropped on exit)."""
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = waiter
        try:
            yield waiter
        finally:
            self._waiting.pop(request_id, None)


def outcome_body(outcome: Outcome) -> Decided:
    """What `POST /staff/commands?wait=…` answers (`Decided`)."""
    ids = {"request_id": outcome.request_id, "staff_id": outcome.staff_id}
    if isinstance(outcome, StaffAccountChangeRejected):
        return Decided(**ids, outcome="rejected", field=outcome.field, reason=outcome.reason)
    kind = "erased" if isinstance(outcome, StaffErased) else "changed"
    return Decided(**ids, outcome=kind, version=outcome.version)
