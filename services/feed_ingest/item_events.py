"""A poll's item events on `herald.feed-items`: `FeedItemDiscovered` for each new item and
`FeedItemUpdated` for each changed one, keyed by item id.

All of a poll's events are sent at once, then every broker ack awaited (one round trip per poll,
not per item). The poll keeps the acknowledged prefix: what follows the first failure is retried
on the next poll, so an item is never marked seen without having reached Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.feed_ingest.decide import Update
from services.feed_ingest.parse import ParsedEntry
from services.feed_ingest.state import FeedState, utcnow
from shared.events import FeedItemUpdated
from shared.events.items import FeedItem
from shared.runtime import ServiceRuntime
from shared.topics import FEED_ITEMS

log = logging.getLogger(__name__)


def updated_event(update: Update, *, feed_id: str, feed_url: str, detected_at: datetime) -> FeedItemUpdated:
    """The changed item as a `FeedItemUpdated`, under the id it was announced with. Its item
    fields are those of the entry's `FeedItemDiscovered` (`ParsedEntry.to_event`, the one mapping
    from a parsed item to an event): the two events carry the same item, body included."""
    item = update.entry.to_event(feed_id=feed_id, feed_url=feed_url, discovered_at=detected_at)
    fields = {name: getattr(item, name) for name in FeedItem.model_fields}
    fields["item_id"] = update.item_id
    return FeedItemUpdated(
        **fields,
        previous_content_hash=update.previous_content_hash,
        changed_fields=list(update.changed_fields),
        detected_at=detected_at,
    )


class ItemPublisher:
    """Sends a poll's item events and says how many, in order, the broker acknowledged."""

    def __init__(self, runtime: ServiceRuntime, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.runtime = runtime
        self.clock = clock

    async def publish_new(self, state: FeedState, entries: tuple[ParsedEntry, ...]) -> int:
        now = self.clock()
        events = [
            (entry.item_id, entry.to_event(feed_id=state.feed_id, feed_url=state.url, discovered_at=now))
            for entry in entries
        ]
        return await self.send_all(state, events)

    async def publish_updates(self, state: FeedState, updates: tuple[Update, ...]) -> int:
        now = self.clock()
        events = [
            (
                update.item_id,
                updated_event(update, feed_id=state.feed_id, feed_url=state.url, detected_at=now),
            )
            for update in updates
        ]
        return await self.send_all(state, events)

    async def send_all(self, state: FeedState, events: list[tuple[str, Any]]) -> int:
        """Send every event, then await all acks. Returns the length of the acknowledged prefix
        (an event after the first failure that did arrive is announced again on the next poll,
        which consumers absorb — never lost)."""
        acknowledgements: list[Any] = []
        for key, event in events:
            try:
                acknowledged = await self.runtime.send(FEED_ITEMS, key, event)
            except Exception as exc:  # the producer refused it (stopped, record too large)
                acknowledged = asyncio.get_running_loop().create_future()
                acknowledged.set_exception(exc)
            acknowledgements.append(acknowledged)
        results = await asyncio.gather(*acknowledgements, return_exceptions=True)
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                log.error(
                    "could not publish item %s of %s: %s: %s",
                    events[index][0],
                    state.feed_id,
                    type(result).__name__,
                    result,
                )
                return index
        return len(events)
