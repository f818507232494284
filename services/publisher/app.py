"""The publisher's faust app: the posting ledger table, the FEED_ITEMS consumer, and the channel.

Built without connecting anything: the X session is made on the first post, the table and agent
are only declared here.
"""

from __future__ import annotations

import logging
from typing import Any

from services.publisher.channels import Channel, OutboxChannel, build_channel
from services.publisher.delivery import RetryPolicy
from services.publisher.ledger import PostingLedger
from services.publisher.posting import Poster
from services.publisher.routing import DEFAULT_ACCOUNT
from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import FEED_ITEMS

log = logging.getLogger(__name__)

SERVICE = "publisher"


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    # Co-partitioned with the items: an item's ledger entries are written from its own partition.
    ledger = PostingLedger(runtime.app, partitions=FEED_ITEMS.partitions)
    channel: Channel = build_channel(settings, account=DEFAULT_ACCOUNT)
    announce_mode(runtime, channel, settings)
    poster = Poster(runtime, ledger, {channel.name: channel}, RetryPolicy())

    # Updates to items are not posted again (issue 4 adds routes that ask for corrections).
    @runtime.consumer(FEED_ITEMS, accepts=(FeedItemDiscovered,))
    async def publish_item(envelope: CloudEvent, item: FeedItemDiscovered) -> None:
        await poster.handle(item)

    @runtime.app.on_before_shutdown.connect
    async def close_channel(app: Any, **kwargs: Any) -> None:
        await channel.close()

    return runtime


def announce_mode(runtime: ServiceRuntime, channel: Channel, settings: HeraldSettings) -> None:
    """Say, loudly and in /health and heartbeats, whether posts really go out."""
    if isinstance(channel, OutboxChannel):
        runtime.heartbeat_detail.update({"mode": "dry-run outbox", "outbox": str(channel.path)})
        banner = "=" * 72
        log.warning(
            "\n%s\nDRY RUN: X credentials (HERALD_X_API_KEY, HERALD_X_API_SECRET, HERALD_X_ACCESS_TOKEN,\n"
            "HERALD_X_ACCESS_TOKEN_SECRET) are not all set. Nothing will be posted; posts go to\n%s\n%s",
            banner,
            channel.path,
            banner,
        )
    else:
        runtime.heartbeat_detail.update({"mode": "live", "x_api": settings.x_api_base_url})
        log.info("posting to X at %s as account %r", settings.x_api_base_url, channel.account)
