"""The publisher's faust app: the posting ledger table, the FEED_ITEMS and PUBLISHER_COMMANDS
consumers, one worker per channel account, the sweep timer and the admin HTTP pages.

Built without connecting anything: channel sessions are made on the first post, the table,
agents, timer and pages are only declared here; the account workers start with the app.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from services.publisher.accounts import AccountsConfigError, build_channels, load_accounts
from services.publisher.channels import Channel, OutboxChannel
from services.publisher.config import ConfigError, PublisherConfig, load_config
from services.publisher.ledger import PostingLedger
from services.publisher.posting import Poster
from services.publisher.retry import RetryPolicy
from services.publisher.views import install_views
from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered, FeedItemUpdated, PostDecisionRequested
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import FEED_ITEMS, PUBLISHER_COMMANDS

log = logging.getLogger(__name__)

SERVICE = "publisher"
SWEEP_SECONDS = 1.0


def load(settings: HeraldSettings) -> tuple[PublisherConfig, dict[str, Channel]]:
    """The config file (routes, policy, flow) and the channels of its accounts."""
    config = load_config(settings.publisher.publisher_config)
    accounts = load_accounts(settings.publisher.publisher_config)
    if accounts is not None and not accounts.accounts:
        accounts = None  # a file with routes/policy only: the default account (X from HERALD_X_*)
    channels = build_channels(accounts, settings)
    if not channels:
        raise ConfigError("the publisher config defines no accounts")
    return config, channels


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    try:
        config, channels = load(settings)
    except (ConfigError, AccountsConfigError) as exc:
        sys.exit(f"herald publisher: {exc}")
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    # Co-partitioned with the items (and the commands, keyed alike): an item's ledger entries
    # live in its own partition.
    ledger = PostingLedger(runtime.app, partitions=FEED_ITEMS.partitions)
    default_target = next(iter(channels))
    poster = Poster(
        runtime, ledger, channels, config, RetryPolicy.of(settings.publisher), default_target=default_target
    )
    announce_mode(runtime, channels, settings)

    # Admitting waits for the broker (the queued entry); a batch of items waits for all at once.
    @runtime.batch_consumer(FEED_ITEMS, accepts=(FeedItemDiscovered, FeedItemUpdated))
    async def publish_item(
        envelope: CloudEvent, item: FeedItemDiscovered | FeedItemUpdated, partition: int
    ) -> None:
        await poster.admit(item, partition)

    @runtime.consumer(PUBLISHER_COMMANDS)
    async def decide(envelope: CloudEvent, command: PostDecisionRequested) -> None:
        await poster.decide(command)

    @runtime.app.timer(SWEEP_SECONDS, name="herald.publisher.sweep")
    async def sweep() -> None:
        await poster.sweep()

    @runtime.app.task
    async def start_workers() -> None:
        poster.start_workers()

    @runtime.app.on_before_shutdown.connect
    async def close_channels(app: Any, **kwargs: Any) -> None:
        await poster.stop_workers()
        for channel in channels.values():
            await channel.close()

    install_views(runtime, poster)
    return runtime


def announce_mode(runtime: ServiceRuntime, channels: dict[str, Channel], settings: HeraldSettings) -> None:
    """Say, loudly and in /health and heartbeats, which accounts really post."""
    dry = {target: channel for target, channel in channels.items() if isinstance(channel, OutboxChannel)}
    live = [target for target in channels if target not in dry]
    runtime.heartbeat_detail["accounts"] = ",".join(channels)
    if not live:
        first = next(iter(dry.values()))
        runtime.heartbeat_detail.update({"mode": "dry-run outbox", "outbox": str(first.path)})
    elif dry:
        runtime.heartbeat_detail.update({"mode": "mixed", "dry_run": ",".join(dry)})
    else:
        runtime.heartbeat_detail.update({"mode": "live", "x_api": settings.publisher.x_api_base_url})
    for target, channel in dry.items():
        banner = "=" * 72
        log.warning(
            "\n%s\nDRY RUN for %s: its credentials are not set (for the default X account:\n"
            "HERALD_X_API_KEY, HERALD_X_API_SECRET, HERALD_X_ACCESS_TOKEN, HERALD_X_ACCESS_TOKEN_SECRET).\n"
            "Nothing will be posted there; posts go to\n%s\n%s",
            banner,
            target,
            channel.path,
            banner,
        )
    for target in live:
        log.info("posting to %s", target)
