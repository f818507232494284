"""A poll's outcome: stored, then told to `herald.ops.feed-health` (`FeedPolled`, and
`FeedStatusChanged` when the feed turns broken or recovers), and failures to the ops errors.

Stored first: a FeedPolled means the seen-state it reflects is durable. A routine 304 only
changes timing: kept in memory (`Subscriptions.remember`), written by `flush_timing`.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from services.feed_ingest.errors import FeedError
from services.feed_ingest.schedule import SchedulePolicy
from services.feed_ingest.state import FeedState, after_error, only_timing_changed, status_change, utcnow
from services.feed_ingest.subscriptions import Subscriptions
from shared.events import FeedPolled, FeedStatusChanged
from shared.runtime import ServiceRuntime
from shared.topics import FEED_HEALTH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Failure:
    """A poll failure that is Herald's side (items not published), shaped like `FeedError`."""

    kind: str
    reason: str
    http_status: int | None = None
    retry_after_seconds: float | None = None


class PollReporter:
    """Records each poll's outcome in the table and on feed-health."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        subscriptions: Subscriptions,
        policy: SchedulePolicy,
        rand: random.Random,
    ) -> None:
        self.runtime = runtime
        self.subscriptions = subscriptions
        self.policy = policy
        self.random = rand
        self.polls = runtime.counter(
            "herald_feed_polls", "Polls by trigger and outcome.", ("trigger", "outcome")
        )
        self.poll_seconds = runtime.histogram("herald_feed_poll_seconds", "Fetch and parse time of a poll.")

    async def failed(
        self,
        state: FeedState,
        exc: FeedError | Failure,
        trigger: str,
        started: float,
        *,
        seen: list[str] | None = None,
        fingerprints: dict[str, str] | None = None,
    ) -> None:
        """A failed poll: backed off (`after_error`), recorded, and reported as an ops error."""
        new = after_error(
            self.subscriptions.latest(state),
            kind=exc.kind,
            reason=exc.reason,
            http_status=exc.http_status,
            now=utcnow(),
            seen=seen,
            fingerprints=fingerprints,
            policy=self.policy,
            rand=self.random.random(),
            retry_after=getattr(exc, "retry_after_seconds", None),
        )
        retry_in = max(0.0, new.next_poll_at - time.time())
        log.warning(
            "poll of %s failed (%s): %s; retry in %.0fs", state.feed_id, exc.kind, exc.reason, retry_in
        )
        await self.finish(state, new, state.url, trigger, started, error=exc)
        await self.runtime.report_error(f"feed_{exc.kind}", f"{state.feed_id} {state.url}: {exc.reason}")

    async def finish(
        self,
        before: FeedState,
        new: FeedState,
        url: str,
        trigger: str,
        started: float,
        *,
        error: FeedError | Failure | None = None,
        warnings: list[str] | None = None,
        items_total: int = 0,
        items_new: int = 0,
        items_updated: int = 0,
    ) -> None:
        """Store the outcome, then tell the feed-health topic (see the module docstring)."""
        if not (only_timing_changed(before, new) and self.subscriptions.remember(new)):
            await self.subscriptions.store(new)
        now = new.last_polled_at or utcnow()
        seconds = time.monotonic() - started
        self.polls.labels(trigger, new.last_outcome or "error").inc()
        self.poll_seconds.observe(seconds)
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
                    duration_ms=seconds * 1000,
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
