"""Create the catalogue's topics on a broker, idempotently, with their exact partition counts.

Run before any service starts (by `herald broker start`, `herald up` and each worker's start-up):
faust tables must find their source topics with the partition counts the catalogue gives.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


class TopicSetupError(RuntimeError):
    """The broker could not be reached, or a topic exists with another partition count."""


async def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec] = ALL_TOPICS,
    *,
    namespace: str = "",
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that are missing; return the names created. Existing ones are checked.

    `namespace` prefixes every name (see `HeraldSettings.topic_namespace`)."""
    specs = [spec.in_namespace(namespace) for spec in specs]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    try:
        await admin.start()
    except KafkaError as exc:
        raise TopicSetupError(f"cannot reach Kafka at {bootstrap_servers}: {exc}") from None
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created: list[str] = []
        if missing:
            new_topics = [
                NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.kafka_config())
                for spec in missing
            ]
            response = await admin.create_topics(new_topics)
            for name, code, *_ in response.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise TopicSetupError(f"could not create topic {name}: Kafka error code {code}")
            created = [spec.name for spec in missing]
        await _check_partitions(admin, [spec for spec in specs if spec.name in existing])
        return created
    finally:
        await admin.close()


async def _check_partitions(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> None:
    if not specs:
        return
    described = await admin.describe_topics([spec.name for spec in specs])
    counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
    for spec in specs:
        have = counts.get(spec.name)
        if have is not None and have != spec.partitions:
            raise TopicSetupError(
                f"topic {spec.name} has {have} partitions but the catalogue says {spec.partitions}"
            )


async def delete_namespace(bootstrap_servers: str, namespace: str) -> list[str]:
    """Delete every topic whose name starts with `namespace` (a test's or a benchmark run's, with
    faust's changelogs); return their names. A broker keeping thousands of leftover topics makes
    every client's full metadata fetch slow (aiokafka decodes it in Python)."""
    if not namespace:
        raise ValueError("refusing to delete topics without a namespace: that would be all of them")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=15000)
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(namespace)]
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()
