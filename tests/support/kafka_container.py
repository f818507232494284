"""The `apache/kafka` image under testcontainers, for machines where a Docker engine answers.

testcontainers' own `KafkaContainer` drives Confluent's image (its start script edits
`/etc/confluent/docker/...`), so the Apache image is run as a generic container configured like
docker-compose.yml: KRaft, one node, replication factor 1. The advertised listener must name the
host port, so the port is chosen before start and bound explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

from tests.support.ports import free_port

KAFKA_IMAGE = "apache/kafka:4.1.1"


@contextmanager
def apache_kafka(image: str = KAFKA_IMAGE, *, startup_timeout: int = 120) -> Iterator[str]:
    """Run the broker; yield its bootstrap address (`127.0.0.1:PORT`)."""
    port = free_port()
    container = (
        DockerContainer(image)
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started").with_startup_timeout(startup_timeout))
    )
    with container:
        yield f"127.0.0.1:{port}"
