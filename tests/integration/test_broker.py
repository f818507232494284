"""Integration tests for herald.broker.LocalBroker against a real Kafka JVM.

Each test gets its own state dir but all share one jar cache
($HERALD_CACHE_DIR or ~/.cache/herald), so Maven runs at most once.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from herald.broker import BrokerError, LocalBroker, new_cluster_id

pytestmark = pytest.mark.integration


def _cache_dir() -> Path:
    return Path(os.environ.get("HERALD_CACHE_DIR") or Path.home() / ".cache" / "herald")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[LocalBroker]:
    b = LocalBroker(tmp_path / "state", _cache_dir())
    try:
        yield b
    finally:
        b.stop()


def _pid_gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.05)
    return False


async def _create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return list(await admin.list_topics())
    finally:
        await admin.close()


@pytest.mark.asyncio
async def test_start_accepts_produce_and_consume(broker: LocalBroker) -> None:
    bootstrap = broker.start()
    assert bootstrap.startswith("127.0.0.1:")
    await _create_topic(bootstrap, "herald.test", partitions=3)

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait("herald.test", f"event-{i}".encode(), key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        "herald.test",
        bootstrap_servers=bootstrap,
        group_id="herald-test-group",  # exercises the offsets topic (RF 1, 8 partitions)
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        async with asyncio.timeout(30):
            while len(got) < 5:
                msg = await consumer.getone()
                got.append(msg.value)
        await consumer.commit()
    finally:
        await consumer.stop()
    assert got == [f"event-{i}".encode() for i in range(5)]


@pytest.mark.asyncio
async def test_second_start_is_idempotent(broker: LocalBroker) -> None:
    first = broker.start()
    pid = broker.status().pid
    # A fresh object (like a second CLI invocation) must find the same broker.
    again = LocalBroker(broker.state_dir, broker.cache_dir)
    assert again.start() == first
    status = again.status()
    assert status.running and status.pid == pid and status.bootstrap == first
    assert status.log_path.is_file()


def test_cluster_id_starting_with_a_dash_still_formats(broker: LocalBroker) -> None:
    """One random id in 64 starts with "-"; the storage tool once read it as an option (CI failure)."""
    broker.cluster_id_path.parent.mkdir(parents=True, exist_ok=True)
    broker.cluster_id_path.write_text("-AbCdEfGhIjKlMnOpQrStUw\n")
    assert broker.start()
    meta = (broker.data_dir / "meta.properties").read_text()
    assert "cluster.id=-AbCdEfGhIjKlMnOpQrStUw" in meta


def test_new_cluster_ids_never_start_with_a_dash() -> None:
    ids = [new_cluster_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert not [cid for cid in ids if cid.startswith("-")]
    assert all(len(cid) == 22 for cid in ids)


@pytest.mark.asyncio
async def test_stop_leaves_no_process(broker: LocalBroker) -> None:
    broker.start()
    pid = broker.status().pid
    assert pid is not None
    assert broker.stop() is True
    assert _pid_gone(pid)
    assert not (broker.state_dir / "broker" / "broker.pid").exists()
    status = broker.status()
    assert not status.running and status.pid is None and status.bootstrap is None
    assert broker.stop() is False


@pytest.mark.asyncio
async def test_restart_reuses_formatted_data(broker: LocalBroker) -> None:
    first = broker.start()
    await _create_topic(first, "herald.persisted")
    cluster_id = (broker.state_dir / "broker" / "cluster.id").read_text()
    broker.stop()

    second = broker.start()
    assert second == first  # previous port is reused when free
    assert "herald.persisted" in await _list_topics(second)
    assert (broker.state_dir / "broker" / "cluster.id").read_text() == cluster_id


@pytest.mark.asyncio
async def test_restart_on_new_ports_keeps_data(broker: LocalBroker) -> None:
    """Static voters: a changed controller port must not break the formatted log."""
    first = broker.start()
    await _create_topic(first, "herald.moved")
    broker.stop()

    ports_file = broker.state_dir / "broker" / "ports.json"
    old = json.loads(ports_file.read_text())
    blockers = []
    try:
        for port in (old["port"], old["controller_port"]):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            s.listen()
            blockers.append(s)
        second = broker.start()
    finally:
        for s in blockers:
            s.close()
    new = json.loads(ports_file.read_text())
    assert new["port"] != old["port"] and new["controller_port"] != old["controller_port"]
    assert second == f"127.0.0.1:{new['port']}"
    assert "herald.moved" in await _list_topics(second)


def test_explicit_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        b = LocalBroker(tmp_path / "state", _cache_dir(), port=busy)
        with pytest.raises(BrokerError, match="already in use"):
            b.start()
    assert not b.status().running


def test_unresolvable_kafka_version_is_a_clear_error(tmp_path: Path) -> None:
    b = LocalBroker(tmp_path / "state", tmp_path / "cache", kafka_version="0.0.0-herald-missing")
    with pytest.raises(BrokerError, match="Maven") as err:
        b.ensure_jars()
    assert "\n" not in str(err.value)
    assert not (tmp_path / "cache" / "kafka-0.0.0-herald-missing" / "libs").exists()


def test_broker_crash_during_start_quotes_the_log(broker: LocalBroker) -> None:
    broker.start()
    broker.stop()
    meta = broker.state_dir / "broker" / "data" / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))  # broker refuses to boot
    with pytest.raises(BrokerError, match="exited during startup.*node id 7") as err:
        broker.start(timeout=60)
    assert "\n" not in str(err.value) and " at kafka." not in str(err.value)
    assert not broker.status().running
