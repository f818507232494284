"""The per-account workers: take the account's next post, check the policy again, write the intent
durably, call the channel, record the result.

The intent is in the ledger before the call, so a crash during the call leaves an intent (resolved
by `unconfirmed`), never a blind re-post. A 429 with a reset time puts the post back first on its
lane and blocks the account until the reset, without counting the refused call as an attempt.
Other transient errors retry with exponential backoff and jitter (`retry.RetryPolicy`); past
`max_attempts` → PostFailed(retryable) and the dead-letter topic. Permanent errors → PostFailed
with the API's reason; a duplicate answer is final.
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
from services.publisher.policy import PolicyConfig, SpendBook, evaluate
from services.publisher.posting.entries import candidate, item_from
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from services.publisher.posting.unconfirmed import Resolver
from services.publisher.retry import RetryPolicy
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
        intent = entry.to_state(LedgerState.INTENT, attempts=entry.attempts + 1)
        # Durable before the call: a crash during the call leaves an intent, never a blind re-post.
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
        if intent.attempts >= self.retry.max_attempts:
            failed = intent.to_state(
                LedgerState.FAILED,
                error_code=exc.code,
                reason=exc.reason,
                retryable=True,
            )
            await self.ledger.record(key, failed)
            await self.outcomes.emit(key, failed, self.channels[intent.target])
            await self.outcomes.dead_letter(
                key, failed, f"{intent.target}: {exc.reason} after {intent.attempts} tries"
            )
            return
        delay = self.retry.backoff(intent.attempts, random)
        back = intent.to_state(LedgerState.QUEUED)
        await self.ledger.record(key, back)
        log.warning(
            "%s attempt %d failed (%s: %s); again in %.1fs", key, intent.attempts, exc.code, exc.reason, delay
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
