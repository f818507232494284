"""The posting workflow for one item: routes → ledger decision → render → intent → deliver →
result → PostPublished/PostFailed. I/O lives here; the decisions it follows are pure functions in
`ledger`, `render` and `delivery`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from faust import current_event

from services.publisher.channels import Channel, DuplicatePostError
from services.publisher.delivery import Delivered, NotDelivered, RetryPolicy, deliver
from services.publisher.ledger import Decision, LedgerEntry, PostingLedger, decide, ledger_key
from services.publisher.render import RenderError, render_post
from services.publisher.routing import routes_for
from shared.events import FeedItemDiscovered, PostFailed, PostPublished
from shared.runtime import ServiceRuntime
from shared.topics import POSTS

log = logging.getLogger(__name__)


class Poster:
    """Posts items on their routes' channels, at most once per item and channel account."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        policy: RetryPolicy,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.policy = policy

    async def handle(self, item: FeedItemDiscovered) -> None:
        """Every route of the item; one route's trouble does not stop the others."""
        (channel_kind,) = self.channels  # skeleton: one channel, one account
        for route in routes_for(item, channel_kind):
            channel = self.channels[route.channel]
            await self.post_once(item, channel)

    async def post_once(self, item: FeedItemDiscovered, channel: Channel) -> None:
        key = ledger_key(item.item_id, channel.name, channel.account)
        entry = self.ledger.get(key)
        decision = decide(entry)
        if decision is Decision.ALREADY_POSTED or decision is Decision.ALREADY_FAILED:
            assert entry is not None
            log.info(
                "%s on %s:%s already %s: acknowledged without a call",
                item.item_id,
                channel.name,
                channel.account,
                entry.state,
            )
            if not entry.event_sent:  # the process stopped between the result and its event
                await self._emit(item, channel, key, entry)
            return
        if decision is Decision.UNCONFIRMED:
            assert entry is not None
            await self._unconfirmed(item, channel, key, entry)
            return

        try:
            text = render_post(item)
        except RenderError as exc:
            failed = LedgerEntry.intent("", attempts=0).failed(
                error_code="unrenderable", reason=str(exc), retryable=False, attempts=1
            )
            await self.ledger.record(key, failed)
            await self._emit(item, channel, key, failed)
            return

        previous = entry.attempts if entry else 0
        intent = LedgerEntry.intent(text, attempts=previous)
        # Durable before the call: a crash during the call leaves an intent, never a blind re-post.
        await self.ledger.record(key, intent)
        outcome = await deliver(channel, text, item, self.policy)

        if isinstance(outcome, Delivered):
            done = intent.posted(
                post_id=outcome.result.post_id,
                post_url=outcome.result.post_url,
                dry_run=outcome.result.dry_run,
                attempts=previous + outcome.attempts,
            )
            await self.ledger.record(key, done)
            log.info("posted %s on %s:%s as %s", item.item_id, channel.name, channel.account, done.post_id)
            await self._emit(item, channel, key, done)
            return

        assert isinstance(outcome, NotDelivered)
        if outcome.maybe_posted and isinstance(outcome.error, DuplicatePostError):
            # An earlier try had no answer and X now calls the text a duplicate: it most likely
            # went out. Not a failure to retry, not a success we can prove: a person checks.
            unsure = intent.failed(
                error_code="unconfirmed",
                reason=f"an attempt had no answer, then: {outcome.error.reason}",
                retryable=False,
                attempts=previous + outcome.attempts,
                maybe_posted=True,
            )
            await self._unconfirmed(item, channel, key, unsure, recorded=False)
            return
        failed = intent.failed(
            error_code=outcome.error.code,
            reason=outcome.error.reason,
            retryable=outcome.retryable,
            attempts=previous + outcome.attempts,
            maybe_posted=outcome.maybe_posted,
        )
        await self.ledger.record(key, failed)
        log.warning(
            "%s not posted on %s:%s: %s (%s)",
            item.item_id,
            channel.name,
            channel.account,
            failed.reason,
            "will retry from the dead-letter topic" if failed.retryable else "final",
        )
        await self._emit(item, channel, key, failed)
        if failed.retryable:
            event = current_event()
            if event is not None:
                await self.runtime.dead_letter(event, f"{channel.name}:{channel.account}: {failed.reason}")

    async def _unconfirmed(
        self,
        item: FeedItemDiscovered,
        channel: Channel,
        key: str,
        entry: LedgerEntry,
        *,
        recorded: bool = True,
    ) -> None:
        """An earlier call's outcome is unknown: never post blindly; record, emit, alert ops."""
        unsure = (
            entry
            if not recorded
            else entry.failed(
                error_code="unconfirmed",
                reason="a post was attempted but its result was never recorded; check the account's timeline",
                retryable=False,
                attempts=max(entry.attempts, 1),
                maybe_posted=True,
            )
        )
        await self.ledger.record(key, unsure)
        await self._emit(item, channel, key, unsure)
        await self.runtime.report_error(
            "post_unconfirmed",
            f"{item.item_id} on {channel.name}:{channel.account}: {unsure.reason}. "
            "Not re-posted; check by hand.",
        )

    async def _emit(self, item: FeedItemDiscovered, channel: Channel, key: str, entry: LedgerEntry) -> None:
        """PostPublished or PostFailed for a recorded result, then mark the ledger entry as told."""
        now = datetime.now(UTC)
        if entry.post_id is not None and entry.state == "posted":
            payload: PostPublished | PostFailed = PostPublished(
                item_id=item.item_id,
                channel=channel.name,
                account=channel.account,
                post_id=entry.post_id,
                post_url=entry.post_url,
                text=entry.text,
                title=item.title,
                link=item.link,
                dry_run=entry.dry_run,
                published_at=now,
            )
        else:
            payload = PostFailed(
                item_id=item.item_id,
                channel=channel.name,
                account=channel.account,
                reason=entry.reason or "unknown",
                error_code=entry.error_code or "unknown",
                retryable=entry.retryable,
                attempts=max(entry.attempts, 1),
                title=item.title,
                link=item.link,
                failed_at=now,
            )
        await self.runtime.publish(POSTS, item.item_id, payload)
        self.ledger.note(key, entry.with_event_sent())
