"""WebSub on the subscriber's side (issue 5 §5): after a poll, ask the feed's hub for pushes
when there is none yet or the lease is running out; record the lease a hub grants.
"""

from __future__ import annotations

import logging
import time

from services.feed_ingest import websub
from services.feed_ingest.fetch import FeedFetcher, FetchResult
from services.feed_ingest.state import PollRequest, utcnow, websub_granted, websub_requested
from services.feed_ingest.subscriptions import Subscriptions
from shared.runtime import ServiceRuntime
from shared.settings import FeedIngestSettings

log = logging.getLogger(__name__)


class HubLeases:
    """Subscribes feeds to their hubs and keeps the leases in the feed's state."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        subscriptions: Subscriptions,
        fetcher: FeedFetcher,
        options: FeedIngestSettings,
    ) -> None:
        self.runtime = runtime
        self.subscriptions = subscriptions
        self.fetcher = fetcher
        self.options = options

    async def maybe_subscribe(self, feed_id: str, fetched: FetchResult) -> None:
        found = websub.discover(fetched.body, dict(fetched.headers), feed_url=fetched.url)
        state = self.subscriptions.state(feed_id)
        if found is None or state is None:
            return
        lease = self.options.websub_lease_seconds
        until = state.websub_lease_until.timestamp() if state.websub_lease_until else None
        same = state.websub_hub == found.hub and state.websub_topic == found.topic
        if same and not websub.needs_renewal(until, lease, time.time()):
            return
        master = self.options.websub_secret.get_secret_value()  # type: ignore[union-attr]
        base = self.options.websub_callback_base_url or ""
        try:
            await websub.subscribe(
                self.fetcher.session,
                hub=found.hub,
                topic=found.topic,
                callback=websub.callback_url(base, master, feed_id, found.topic),
                secret=websub.feed_secret(master, feed_id),
                lease_seconds=lease,
            )
        except websub.WebSubError as exc:
            log.warning("WebSub subscription of %s failed: %s", feed_id, exc)
            await self.runtime.report_error("websub_subscribe_failed", f"{feed_id}: {exc}")
            return
        log.info("asked hub %s for pushes of %s (%s)", found.hub, feed_id, found.topic)
        current = self.subscriptions.state(feed_id) or state
        await self.subscriptions.store(
            websub_requested(current, hub=found.hub, topic=found.topic, lease_seconds=lease, now=utcnow())
        )

    async def record_lease(self, request: PollRequest) -> None:
        state = self.subscriptions.state(request.feed_id)
        if state is not None and request.lease_seconds:
            await self.subscriptions.store(
                websub_granted(state, lease_seconds=request.lease_seconds, now=utcnow())
            )
