"""The per-account workers: take the account's next post, check the policy again, write the intent
durably, call the channel, record the result.

The intent is in the ledger before the call, so a crash during the call leaves an intent (resolved
by `unconfirmed`), never a blind re-post. A 429 with a reset time puts the post back first on its
lane and blocks the account until the reset, without counting the refused call as an attempt.
Other transient errors retry with exponential backoff and jitter (`retry.RetryPolicy`), the time
of the next try in the entry (so a restart keeps it); once `max_attempts` are spent the forum is
told (PostFailed, retryable, with `retry_until`) and the tries go on until the give-up age, then
the post is held for a person (rule `gave_up`). Permanent errors → PostFailed with the API's
reason; a duplicate answer is final.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.publisher.channels import (
    Channel,
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    TransientPostError,
)
from services.publisher.flow import AccountLane
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.policy import Hold, PolicyConfig, SpendBook, evaluate
from services.publisher.posting.entries import candidate, item_from
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes, event_for
from services.publisher.posting.unconfirmed import Resolver
from services.publisher.retry import GiveUp, RetryPolicy
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)


class Sender:
    """Runs one account lane: each post it hands out, from intent to recorded result."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        *,
        policy: PolicyConfig,
        retry: RetryPolicy,
        spend: SpendBook,
        lanes: Lanes,
        outcomes: Outcomes,
        resolver: Resolver,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.policy = policy
        self.retry = retry
        self.spend = spend
        self.lanes = lanes
        self.outcomes = outcomes
        self.resolver = resolver
        self.call_seconds = runtime.histogram(
            "herald_publisher_call_seconds", "A channel's post call, by channel kind.", ["channel"]
        )
        self.queued_to_call = runtime.histogram(
            "herald_publisher_queued_to_call_seconds", "From an item's admission to its post call."
        )

    async def run(self, lane: AccountLane) -> None:
        while True:
            key = await lane.next_job()
            self.lanes.busy.add(key)
            try:
                await self.process(key, lane)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one bad item never stops the account's worker
                log.exception("posting %s failed unexpectedly", key)
                await self.runtime.report_error("post_error", f"{key}: {type(exc).__name__}: {exc}")
            finally:
                self.lanes.busy.discard(key)
                lane.done()

    async def process(self, key: str, lane: AccountLane) -> None:
        entry = self.ledger.get(key)
        if entry is None:
            return
        channel = self.channels[entry.target]
        if entry.state is LedgerState.INTENT:
            await self.resolver.resolve(key, entry, channel, lane)
            return
        if entry.state is not LedgerState.QUEUED:
            return  # decided meanwhile (dropped, posted by an earlier job)
        hold = evaluate(candidate(entry), self.policy, datetime.now(UTC), self.spend)
        if hold is not None:
            await self.outcomes.hold(key, entry, hold, channel)
            return
        if entry.attempts == 0 and entry.queued_at:
            waited = datetime.now(UTC) - datetime.fromisoformat(entry.queued_at)
            self.outcomes.steps.labels("lane_wait").observe(max(waited.total_seconds(), 0.0))
        intent = entry.to_state(LedgerState.INTENT, attempts=entry.attempts + 1)
        # Durable before the call: a crash during the call leaves an intent, never a blind re-post.
        with self.outcomes.steps.labels("intent").time():
            await self.ledger.record(key, intent)
        try:
            result = await self._call(channel, key, intent)
        except TransientPostError as exc:
            _note_limits(lane, getattr(exc, "rate_limit", None))
            if exc.maybe_sent:  # no answer: it may have gone out
                log.warning("%s: no answer (%s): resolving before anything else", key, exc.reason)
                await self.resolver.resolve(key, intent, channel, lane)
                return
            await self._transient(key, intent, exc, lane)
            return
        except DuplicatePostError as exc:
            if intent.guarded_retry:  # the call whose answer was lost did post: record it
                await self.resolver.confirm_duplicate(key, intent, channel)
                return
            await self._final_failure(key, intent, exc.code, exc.reason, channel)
            return
        except PermanentPostError as exc:
            await self._final_failure(key, intent, exc.code, exc.reason, channel)
            return
        lane.sent()
        _note_limits(lane, getattr(result, "rate_limit", None))
        await self.outcomes.posted(key, intent, result.post_id, result.post_url, result.dry_run, channel)

    async def _call(self, channel: Channel, key: str, entry: LedgerEntry) -> PostResult:
        outgoing = OutgoingPost.from_item(entry.text, item_from(entry), idempotency_key=key)
        if entry.link is not None:  # the link as posted (UTM added)
            outgoing = replace(outgoing, link=entry.link)
        if entry.queued_at:
            waited = datetime.now(UTC) - datetime.fromisoformat(entry.queued_at)
            self.queued_to_call.observe(max(waited.total_seconds(), 0.0))
        with self.call_seconds.labels(entry.target.split(":")[0]).time():
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
        now = datetime.now(UTC)
        first = datetime.fromisoformat(intent.first_failed_at) if intent.first_failed_at else now
        step = self.retry.after_failure(intent.attempts, first, now, random)
        channel = self.channels[intent.target]
        if isinstance(step, GiveUp):
            hours = step.failing_for.total_seconds() / 3600
            reason = (
                f"{intent.target} kept failing for {hours:.1f} h ({exc.code}: {exc.reason}); "
                "approve to try again"
            )
            fresh = replace(intent, first_failed_at=None, retry_at=None)  # approved: a new give-up age
            await self.outcomes.hold(key, fresh, Hold("gave_up", reason, None), channel)
            await self.runtime.report_error("post_gave_up", f"{key}: {reason}")
            return
        back = intent.to_state(
            LedgerState.QUEUED, first_failed_at=first.isoformat(), retry_at=step.at.isoformat()
        )
        await self.ledger.record(key, back)
        delay = max(0.0, (step.at - now).total_seconds())
        log.warning(
            "%s attempt %d failed (%s: %s); again in %.1fs", key, intent.attempts, exc.code, exc.reason, delay
        )
        if step.tell:  # the first tries are spent: the forum hears it is down, and until when Herald tries
            told = intent.to_state(LedgerState.FAILED, error_code=exc.code, reason=exc.reason, retryable=True)
            failed = event_for(key, told, channel, now).model_copy(update={"retry_until": step.until})
            await self.outcomes.publish(failed, key, back)
            await self.runtime.report_error(
                "post_retrying", f"{key}: {exc.reason}; retrying until {step.until}"
            )
        self.lanes.put_later(key, lane, delay, urgent=back.urgent)

    async def _final_failure(
        self, key: str, intent: LedgerEntry, code: str, reason: str, channel: Channel
    ) -> None:
        failed = intent.to_state(LedgerState.FAILED, error_code=code, reason=reason, retryable=False)
        await self.ledger.record(key, failed)
        log.warning("%s not posted: %s (final)", key, reason)
        await self.outcomes.emit(key, failed, channel)


def _note_limits(lane: AccountLane, limit: Any) -> None:
    if limit is not None:
        lane.note_rate_limit(getattr(limit, "remaining", None), getattr(limit, "reset_at", None))
