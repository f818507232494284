"""A worker whose table recovery cannot finish notices, tells ops, and exits for its supervisor.

The stall is real and deterministic: the last offset of a changelog partition is a transaction's
commit marker. A consumer never receives a record at that offset, so faust's recovery (which reads
up to highwater - 1) waits for it forever, as it does when records stop arriving for any other
reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from shared.kafka_admin import ensure_topics
from shared.recovery_watchdog import STALL_ERROR_KIND
from shared.topics import FEEDS, OPS_ERRORS, TopicSpec
from tests.support.kafka import collect_events
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration


async def test_a_stalled_recovery_is_reported_and_the_worker_exits(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
):
    namespace = herald_topics
    changelog = f"{namespace}herald-feed_ingest-feeds-changelog"
    await ensure_topics(
        kafka_bootstrap,
        [
            TopicSpec(
                name=changelog,
                key="table key",
                description="feed_ingest's feeds table changelog",
                partitions=FEEDS.partitions,
                cleanup_policy="compact",
                retention_ms=None,
                public=False,
            )
        ],
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{namespace}stall", enable_idempotence=True
    )
    await producer.start()
    try:
        async with producer.transaction():  # offset 0: a tombstone; offset 1: the commit marker
            await producer.send(changelog, key=json.dumps("feed-x").encode(), value=None, partition=0)
    finally:
        await producer.stop()

    port = free_port()
    worker = ServiceProcess(
        "feed_ingest",
        {
            "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "HERALD_TOPIC_NAMESPACE": namespace,
            "HERALD_STATE_DIR": str(tmp_path / "state"),
            "HERALD_FEED_INGEST_PORT": str(port),
            "HERALD_INSTANCE_ID": "stalled-worker",
            "HERALD_RECOVERY_STALL_SECONDS": "3",
        },
        port,
        tmp_path,
    )
    try:
        # Never ready: start() sees the process exit on its own, non-zero.
        with pytest.raises(RuntimeError, match=r"feed_ingest exited with [1-9]"):
            worker.start(timeout=90)
        errors = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=namespace,
            where=lambda event: event.data["kind"] == STALL_ERROR_KIND,
            timeout=30,
        )
        assert [event.data["instance"] for event in errors] == ["stalled-worker"]
        assert errors[0].data["message"] == (
            f"table recovery read no changelog record for 3s (1 still to read: {changelog}[0] 1); "
            "worker exiting to be restarted"
        )
    finally:
        worker.stop()
