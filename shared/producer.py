"""A small event producer for processes that are not faust apps (the CLI, imports, tests).

It sends only payload models, wrapped in the CloudEvents envelope, to catalogue topics, and waits
for the broker's acknowledgement, so "sent" means "durably on the topic".
"""

from __future__ import annotations

from types import TracebackType

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.envelope import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, EventPayload, wrap
from shared.topics import TopicSpec


class ProducerError(RuntimeError):
    """Kafka could not be reached or did not take the event."""


def record_headers(envelope: CloudEvent) -> list[tuple[str, bytes]]:
    """Kafka headers of an event: the content type, and its type for consumers that filter."""
    return [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()), ("ce_type", envelope.type.encode())]


class EventProducer:
    """`async with EventProducer(bootstrap, source="/herald/cli") as producer: await producer.send(...)`"""

    def __init__(self, bootstrap_servers: str, *, source: str, namespace: str = "") -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True, request_timeout_ms=15000
        )
        self._bootstrap = bootstrap_servers
        self.source = source
        self.namespace = namespace

    async def __aenter__(self) -> EventProducer:
        try:
            await self._producer.start()
        except KafkaError as exc:
            await self._producer.stop()
            raise ProducerError(f"cannot reach Kafka at {self._bootstrap}: {exc}") from None
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._producer.stop()

    async def send(self, spec: TopicSpec, key: str, payload: EventPayload) -> CloudEvent:
        if spec.payloads and type(payload) not in spec.payloads:
            raise TypeError(f"{type(payload).__name__} does not belong on {spec.name}")
        envelope = wrap(payload, source=self.source)
        await self.send_record(spec, envelope.to_bytes(), key=key, headers=record_headers(envelope))
        return envelope

    async def partitions(self, spec: TopicSpec) -> list[int]:
        """The topic's partitions as the broker has them (not the catalogue's count: a topic
        created elsewhere, or grown since, may have more)."""
        try:
            return sorted(await self._producer.partitions_for(self.namespace + spec.name))
        except KafkaError as exc:
            raise ProducerError(f"cannot read the partitions of {spec.name}: {exc}") from None

    async def send_record(
        self,
        spec: TopicSpec,
        value: bytes,
        *,
        key: str | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """A record as it is, for internal topics whose records are not events (feed_ingest's poll
        requests); `partition` when the record is for one partition's owner, not one key's."""
        try:
            await self._producer.send_and_wait(
                self.namespace + spec.name,
                value,
                key=key.encode() if key is not None else None,
                partition=partition,
                headers=headers,
            )
        except KafkaError as exc:
            raise ProducerError(f"Kafka did not take the record for {spec.name}: {exc}") from None
