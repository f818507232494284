"""Intents without a result (a crash, or a call whose answer was lost): settled by machine wherever
the channel's guard makes a retry safe, held for a person only where nothing does
(docs/adr/0011-publisher-settles-unconfirmed-posts.md).

1. Look at the account (`find_recent(link)`): found → posted and PostPublished.
2. The look failed (the API is down, rate limited): look again later, with the retry backoff,
   until the give-up age; then held for a person.
3. Not found, by `channel.retry_guard`:
   - `IDEMPOTENCY_KEY` (Mastodon, a webhook marked idempotent): posted again with the same key;
   - `OWN_RECORD` (the outbox): not there means not written: posted again;
   - `DUPLICATE_REFUSAL` (X): a timeline can lag, so after `settle_seconds` it looks once more;
     still not found → posted again, marked `guarded_retry`: if the service then refuses it as a
     duplicate it had it after all, and `confirm_duplicate` looks it up to record it;
   - `NONE` (Facebook, a plain webhook): held with rule `unconfirmed`, and ops are alerted.
"""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.publisher.channels import Channel, PostResult, RetryGuard
from services.publisher.flow import AccountLane
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.policy import Hold
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from services.publisher.retry import GiveUp, RetryPolicy
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

#: Guards under which a post not found on the account is posted again at once.
RETRY_AT_ONCE = (RetryGuard.IDEMPOTENCY_KEY, RetryGuard.OWN_RECORD)


class LookupFailed(Exception):
    """The account could not be looked at (so nobody can tell whether the post is there)."""


class Resolver:
    """Settles an intent whose call may or may not have gone out."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        outcomes: Outcomes,
        lanes: Lanes,
        *,
        retry: RetryPolicy,
        settle_seconds: float,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.outcomes = outcomes
        self.lanes = lanes
        self.retry = retry
        self.settle_seconds = settle_seconds

    async def resolve(self, key: str, entry: LedgerEntry, channel: Channel, lane: AccountLane) -> None:
        try:
            found = await self._look(key, entry, channel)
        except LookupFailed as exc:
            await self._look_later(key, entry, channel, lane, str(exc))
            return
        if found is not None:
            log.info("%s: found on %s as %s after an unanswered call", key, entry.target, found.post_id)
            await self.outcomes.posted(key, entry, found.post_id, found.post_url, found.dry_run, channel)
            return
        guard = channel.retry_guard
        if guard in RETRY_AT_ONCE:
            log.warning("%s: not found; posting again (%s makes it safe)", key, guard)
            await self._again(key, entry, lane)
            return
        if guard is RetryGuard.DUPLICATE_REFUSAL:
            if entry.looked_at is None:  # the first look: the timeline may lag; look once more
                looked = replace(entry, looked_at=_now().isoformat(), retry_at=_in(self.settle_seconds))
                await self.ledger.record(key, looked)
                self.lanes.put_later(key, lane, self.settle_seconds, urgent=True)
                return
            log.warning("%s: not found twice; posting again (%s refuses a second copy)", key, entry.target)
            await self._again(key, entry, lane)
            return
        await self._hold(
            key,
            entry,
            channel,
            "a post was attempted but its result is unknown and it was not found on the account; "
            "check the account and approve or drop it",
        )

    async def confirm_duplicate(self, key: str, entry: LedgerEntry, channel: Channel) -> None:
        """A guarded retry was refused as a duplicate: the first call did post. Record it from the
        account, or hold it (with what was found) when the account cannot show it."""
        try:
            found = await self._look(key, entry, channel)
        except LookupFailed as exc:
            found, why = None, f"and the account cannot be looked at ({exc})"
        else:
            why = "but it is not on the account's recent posts"
        if found is not None:
            log.info("%s: %s refused a second copy; recorded as %s", key, entry.target, found.post_id)
            await self.outcomes.posted(key, entry, found.post_id, found.post_url, found.dry_run, channel)
            return
        await self._hold(
            key,
            entry,
            channel,
            f"{entry.target} refused a second copy as a duplicate, so the first call did post, {why}; "
            "find it, then drop this",
        )

    async def _look(self, key: str, entry: LedgerEntry, channel: Channel) -> PostResult | None:
        if not entry.link or not channel.can_find_recent:
            return None
        try:
            return await channel.find_recent(entry.link)
        except Exception as exc:
            log.warning("%s: cannot look at %s's recent posts: %s", key, entry.target, exc)
            raise LookupFailed(f"{type(exc).__name__}: {exc}") from exc

    async def _look_later(
        self, key: str, entry: LedgerEntry, channel: Channel, lane: AccountLane, reason: str
    ) -> None:
        now = _now()
        first = datetime.fromisoformat(entry.first_failed_at) if entry.first_failed_at else now
        looks = entry.attempts + 1  # the backoff grows with each look, as with each call
        step = self.retry.after_failure(max(looks, self.retry.max_attempts), first, now, random)
        if isinstance(step, GiveUp):
            await self._hold(
                key, entry, channel, f"its result is unknown and the account cannot be looked at: {reason}"
            )
            return
        later = replace(entry, first_failed_at=first.isoformat(), retry_at=step.at.isoformat())
        await self.ledger.record(key, later)
        self.lanes.put_later(key, lane, max(0.0, (step.at - now).total_seconds()), urgent=True)

    async def _again(self, key: str, entry: LedgerEntry, lane: AccountLane) -> None:
        back = entry.to_state(LedgerState.QUEUED, guarded_retry=True, looked_at=None, retry_at=None)
        await self.ledger.record(key, back)
        lane.put(key, urgent=True)

    async def _hold(self, key: str, entry: LedgerEntry, channel: Channel, reason: str) -> None:
        await self.outcomes.hold(key, entry, Hold("unconfirmed", reason, None), channel)
        await self.runtime.report_error(
            "post_unconfirmed", f"{key}: {reason}. Not re-posted; held for a person."
        )


def _now() -> datetime:
    return datetime.now(UTC)


def _in(seconds: float) -> str:
    return (_now() + timedelta(seconds=seconds)).isoformat()
