"""Outcomes recorded and told: a state written to the ledger, then the event that tells it.

Every writer records first and tells second, then marks the entry as told (`ledger.note`): a stop
between the two leaves a recorded, untold entry, which the sweep tells later (the ledger is the
outbox, the sweep its relay), so outcome events are at-least-once like every Herald event.
`event_for` is the pure half: the event a recorded state calls for.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.publisher.channels import Channel
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.policy import Hold, PolicyConfig, SpendBook, post_cost
from services.publisher.posting.entries import account_of, item_from, kind_of
from shared.dead_letters import dead_letter_headers
from shared.envelope import CLOUDEVENTS_CONTENT_TYPE, wrap
from shared.events import PostDropped, PostFailed, PostHeld, PostPublished
from shared.runtime import ServiceRuntime
from shared.topics import FEED_ITEMS, POSTS, dead_letter

log = logging.getLogger(__name__)

RESULTS = {PostPublished: "published", PostFailed: "failed", PostHeld: "held", PostDropped: "dropped"}
#: Step times, seconds: a broker acknowledgement takes a millisecond or two, a wait in a lane seconds.
STEP_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)

Outcome = PostPublished | PostFailed | PostHeld | PostDropped


def event_for(key: str, entry: LedgerEntry, channel: Channel | None, now: datetime) -> Outcome:
    """The event for a recorded state: dropped, posted, held, or else failed."""
    item = entry.item or {}
    item_id = key.split("|")[0]
    kind, account = kind_of(channel, entry), account_of(channel, entry)
    if entry.state is LedgerState.DROPPED:
        return PostDropped(
            item_id=item_id,
            channel=kind,
            account=account,
            dropped_by=entry.dropped_by or "unknown",
            reason=entry.reason or "",
            dropped_at=datetime.fromisoformat(entry.updated_at) if entry.updated_at else now,
        )
    if entry.state is LedgerState.POSTED and entry.post_id is not None:
        return PostPublished(
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
    if entry.state is LedgerState.HELD:
        return PostHeld(
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
    return PostFailed(
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


class Outcomes:
    """Records outcomes in the ledger and tells them on `herald.posts` (and the dead-letter topic);
    keeps the spend book the cost caps read up to date with what was posted."""

    def __init__(
        self, runtime: ServiceRuntime, ledger: PostingLedger, policy: PolicyConfig, spend: SpendBook
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.policy = policy
        self.spend = spend
        self.posts = runtime.counter(
            "herald_posts", "Post outcomes on herald.posts, by channel and result.", ("channel", "result")
        )
        # Where a post's time goes (bench/publisher_bench.py prints it): `admit` (the queued entry
        # acknowledged), `lane_wait` (admitted → taken by a worker), `intent` (acknowledged), `result`
        # (acknowledged), `outcome` (the event acknowledged); the call is herald_publisher_call_seconds.
        self.steps = runtime.histogram(
            "herald_publisher_step_seconds",
            "Seconds of each step of posting, by step.",
            ("step",),
            buckets=STEP_BUCKETS,
        )

    async def hold(self, key: str, entry: LedgerEntry, hold: Hold, channel: Channel | None) -> None:
        release_at = hold.release_at.isoformat() if hold.release_at else None
        held = entry.held(rule=hold.rule, reason=hold.reason, release_at=release_at)
        await self.ledger.record(key, held)
        log.info("%s held (%s): %s", key, hold.rule, hold.reason)
        await self.emit(key, held, channel)

    async def posted(
        self,
        key: str,
        entry: LedgerEntry,
        post_id: str,
        post_url: str | None,
        dry_run: bool,
        channel: Channel,
    ) -> None:
        cost = 0.0 if dry_run else post_cost(entry.target, bool(entry.link), self.policy)
        done = replace(
            entry.posted(
                post_id=post_id, post_url=post_url, dry_run=dry_run, attempts=max(entry.attempts, 1)
            ),
            cost=cost,
        )
        with self.steps.labels("result").time():
            await self.ledger.record(key, done)
        self.spend.add(entry.target, cost, datetime.now(UTC))
        log.info("posted %s as %s", key, post_id)
        with self.steps.labels("outcome").time():
            await self.emit(key, done, channel)

    async def emit(self, key: str, entry: LedgerEntry, channel: Channel | None) -> None:
        """The event for a recorded state, then mark the ledger entry as told."""
        await self.publish(event_for(key, entry, channel, datetime.now(UTC)), key, entry)

    async def publish(self, payload: Any, key: str, entry: LedgerEntry) -> None:
        await self.runtime.publish(POSTS, key.split("|")[0], payload)
        self.posts.labels(payload.channel, RESULTS.get(type(payload), type(payload).__name__)).inc()
        self.ledger.note(key, entry.with_event_sent())

    async def dead_letter(self, key: str, entry: LedgerEntry, reason: str) -> None:
        """The item, as an event, on the publisher's dead-letter topic (replayable to FEED_ITEMS)."""
        runtime = self.runtime
        envelope = wrap(item_from(entry), source=runtime.source)
        headers = [
            ("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()),
            ("ce_type", envelope.type.encode()),
            *dead_letter_headers(
                reason, runtime.service, runtime.settings.topic_namespace + FEED_ITEMS.name, ledger_key=key
            ),
        ]
        try:
            pending = await runtime.topic(dead_letter(runtime.service)).send(
                key=key.split("|")[0].encode(), value=envelope.to_bytes(), headers=headers
            )
            await pending
        except Exception:
            log.exception("could not dead-letter %s", key)
        await runtime.report_error("dead_lettered", f"{key}: {reason}")
