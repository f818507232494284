"""Fixtures every tier shares. The broker is real: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else
testcontainers' Kafka if a Docker engine answers, else Herald's own local broker (Maven jars)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.kafka_admin import delete_namespace, ensure_topics
from shared.settings import load_settings


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("HERALD_KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if _docker_answers():
        from tests.support.kafka_container import apache_kafka

        with apache_kafka() as bootstrap:
            yield bootstrap
        return
    from herald.broker import LocalBroker

    broker = LocalBroker(
        state_dir=tmp_path_factory.mktemp("broker-state"), cache_dir=load_settings().cache_dir
    )
    bootstrap = broker.start(timeout=120)
    try:
        yield bootstrap
    finally:
        broker.stop()


@pytest.fixture
def namespace(kafka_bootstrap: str) -> Iterator[str]:
    """A unique topic/group prefix, so each test has its own topics on the shared broker. Its topics
    (the catalogue's and faust's changelogs) are deleted afterwards: a one-node test broker holding
    every test's partitions at once runs out of heap."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    if not os.environ.get("HERALD_TEST_KEEP_TOPICS"):  # set it to inspect a failed test's topics
        asyncio.run(delete_namespace(kafka_bootstrap, prefix))


@pytest.fixture
def herald_topics(kafka_bootstrap: str, namespace: str) -> str:
    """Create the whole catalogue under this test's namespace; returns the namespace."""
    asyncio.run(ensure_topics(kafka_bootstrap, namespace=namespace))
    return namespace


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    path = tmp_path / "state"
    path.mkdir()
    return path
