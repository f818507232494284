"""What every CLI command needs: settings, and the Kafka broker to talk to.

`HERALD_KAFKA_BOOTSTRAP_SERVERS` means "use that broker, start none"; otherwise Herald's local
broker in the state dir is used (started on demand by the commands that need a running stack).
Failures here are UserErrors (the local broker's BrokerError is one); Kafka clients' errors from
`shared/` are turned into one line by `herald.errors.describe`.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from herald.broker import LocalBroker
from herald.errors import UserError
from shared.kafka_admin import ensure_topics
from shared.settings import HeraldSettings, SettingsError, load_settings


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
    return broker.start(timeout=120), True


async def start_consumer(consumer: AIOKafkaConsumer, bootstrap: str) -> None:
    """Start `consumer`, or close it and say the broker cannot be reached (no "Unclosed" noise)."""
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise UserError(f"cannot reach Kafka at {bootstrap}: {exc}") from None


async def prepare_topics(bootstrap_servers: str, config: HeraldSettings) -> list[str]:
    return await ensure_topics(bootstrap_servers, namespace=config.topic_namespace)
