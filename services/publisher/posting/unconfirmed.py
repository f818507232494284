"""Intents without a result (a crash or an unanswered call): resolved, never posted blindly.

`find_recent(link)` on the account; found → posted + PostPublished; not found or cannot tell → a
channel whose API de-duplicates by idempotency key (Mastodon) is tried again with the *same* key;
any other (X) is held with rule `unconfirmed` and ops are alerted.
"""

from __future__ import annotations

import logging

from services.publisher.channels import Channel
from services.publisher.flow import AccountLane
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.policy import Hold
from services.publisher.posting.outcomes import Outcomes
from shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)

#: Channel kinds whose API de-duplicates a retried request by its idempotency key.
IDEMPOTENT_KINDS = frozenset({"mastodon"})


class Resolver:
    """Settles an intent whose call may or may not have gone out."""

    def __init__(self, runtime: ServiceRuntime, ledger: PostingLedger, outcomes: Outcomes) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.outcomes = outcomes

    async def resolve(self, key: str, entry: LedgerEntry, channel: Channel, lane: AccountLane) -> None:
        """Look for the post; found → posted; else same-key retry (Mastodon) or hold (X)."""
        link = entry.link
        found = None
        if link and hasattr(channel, "find_recent"):
            try:
                found = await channel.find_recent(link)
            except Exception as exc:  # cannot tell: treated like "not found" below
                log.warning("%s: cannot look at %s's recent posts: %s", key, entry.target, exc)
        if found is not None:
            log.info("%s: found on %s as %s after an unanswered call", key, entry.target, found.post_id)
            await self.outcomes.posted(key, entry, found.post_id, found.post_url, found.dry_run, channel)
            return
        kind = entry.target.partition(":")[0]
        if getattr(channel, "idempotent", kind in IDEMPOTENT_KINDS):
            back = entry.to_state(LedgerState.QUEUED)
            await self.ledger.record(key, back)
            log.warning("%s: not found; retrying with the same idempotency key", key)
            lane.put(key, urgent=True)
            return
        hold = Hold(
            "unconfirmed",
            "a post was attempted but its result is unknown and it was not found on the account; "
            "check the account and approve or drop it",
            None,
        )
        await self.outcomes.hold(key, entry, hold, channel)
        await self.runtime.report_error(
            "post_unconfirmed", f"{key}: {hold.reason}. Not re-posted; held for a person."
        )
