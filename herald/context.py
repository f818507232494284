"""What every CLI command needs: settings, and the Kafka broker to talk to.

`HERALD_KAFKA_BOOTSTRAP_SERVERS` means "use that broker, start none"; otherwise Herald's local
broker in the state dir is used (started on demand by the commands that need a running stack).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from herald.broker import BrokerError, LocalBroker
from herald.errors import UserError
from shared.kafka_admin import TopicSetupError, ensure_topics
from shared.producer import ProducerError
from shared.settings import HeraldSettings, SettingsError, load_settings

T = TypeVar("T")


def settings() -> HeraldSettings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise UserError(f"invalid setting {exc}") from None


def local_broker(config: HeraldSettings) -> LocalBroker:
    return LocalBroker(config.state_dir, config.cache_dir, port=config.kafka_port)


def bootstrap(config: HeraldSettings, *, start: bool) -> tuple[str, bool]:
    """The broker to use, and whether this call started it. `start=False` requires it running."""
    if config.kafka_bootstrap_servers:
        return config.kafka_bootstrap_servers, False
    broker = local_broker(config)
    status = broker.status()
    if status.running and status.bootstrap:
        return status.bootstrap, False
    if not start:
        raise UserError(
            "the local Kafka broker is not running: start it with `herald broker start` or `herald up`"
        )
    try:
        return broker.start(timeout=120), True
    except BrokerError as exc:
        raise UserError(str(exc)) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine, turning Kafka failures into one-line errors."""
    try:
        return asyncio.run(coro)
    except (ProducerError, TopicSetupError) as exc:
        raise UserError(str(exc)) from None


async def prepare_topics(bootstrap_servers: str, config: HeraldSettings) -> list[str]:
    return await ensure_topics(bootstrap_servers, namespace=config.topic_namespace)
