"""What a worker says about itself, checked against a known workload on a real publisher: `/ready`
fails until it is assigned and recovered, `/health` answers alive, `/metrics` counts exactly what
it handled and shows its lag, and heartbeats go starting → ready → stopping with lag and the last
error."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from shared.topics import FEED_ITEMS, OPS_HEARTBEAT
from tests.integration.test_publisher import make_item, outcome, publisher_env, send
from tests.support.kafka import collect_events, wait_until
from tests.support.metrics import metric
from tests.support.ports import free_port
from tests.support.publisher_harness import PublisherProcess

pytestmark = pytest.mark.integration


async def _ready_answers(port: int, deadline: float) -> list[tuple[int, list[str]]]:
    """Every answer of /ready from the first one the port gives until it says 200."""
    answers: list[tuple[int, list[str]]] = []
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            try:
                response = await client.get(f"http://127.0.0.1:{port}/ready")
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
                continue
            answers.append((response.status_code, response.json()["ready"]["reasons"]))
            if response.status_code == 200:
                return answers
            await asyncio.sleep(0.05)
    raise AssertionError(f"not ready in time: {answers[-5:]}")


async def test_ready_health_metrics_and_heartbeats_say_what_the_worker_does(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    namespace = herald_topics
    port = free_port()
    env = publisher_env(kafka_bootstrap, namespace, state_dir, port, HERALD_HEARTBEAT_INTERVAL_SECONDS="1")
    env["HERALD_INSTANCE_ID"] = instance = f"vitals-{port}"
    service = PublisherProcess({**env, "PYTHONUNBUFFERED": "1"}, port, tmp_path).launch()
    base = f"http://127.0.0.1:{port}"
    try:
        answers = await _ready_answers(port, time.monotonic() + 90)
        refusals = [reasons for code, reasons in answers if code == 503]
        assert refusals, "the web port opens before start-up ends: /ready must have refused first"
        known = {"starting", "rebalancing", "recovering tables"}
        assert all(reasons and set(reasons) <= known for reasons in refusals), refusals

        async with httpx.AsyncClient(timeout=5.0) as client:
            alive = await client.get(f"{base}/health")
            assert alive.status_code == 200 and alive.json()["alive"] == {"ok": True, "reasons": []}

            items = [make_item(f"Recycling centre notice {n}") for n in range(5)]
            for item in items:
                await send(kafka_bootstrap, namespace, item)
            for item in items:
                assert await outcome(kafka_bootstrap, namespace, item)
            junk = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
            await junk.start()
            try:
                await junk.send_and_wait(namespace + FEED_ITEMS.name, b"{not json", key=b"junk")
            finally:
                await junk.stop()

            async def counted() -> str | None:
                text = (await client.get(f"{base}/metrics")).text
                invalid = {"topic": FEED_ITEMS.name, "type": "(unreadable)", "outcome": "invalid"}
                return text if metric(text, "herald_events_consumed_total", **invalid) == 1 else None

            text = await wait_until(counted, timeout=30)
            discovered = {"topic": FEED_ITEMS.name, "type": "herald.feed.item.discovered.v1", "outcome": "ok"}
            assert metric(text, "herald_events_consumed_total", **discovered) == 5
            published = metric(
                text, "herald_events_published_total", topic="herald.posts", type="herald.post.published.v1"
            )
            assert published == 5
            assert metric(text, "faust_messages_received_total") is not None  # faust's own sensors
            assert metric(text, "herald_posts_total", channel="outbox", result="published") == 5
            assert metric(text, "herald_publisher_call_seconds_count", channel="x") == 5
            assert metric(text, "herald_publisher_queued_to_call_seconds_count") == 5

            async def caught_up() -> str | None:
                text = (await client.get(f"{base}/metrics")).text
                lags = [
                    metric(text, "herald_consumer_lag", topic=namespace + FEED_ITEMS.name, partition=str(p))
                    for p in range(FEED_ITEMS.partitions)
                ]
                known_lags = [lag for lag in lags if lag is not None]
                return text if known_lags and all(lag == 0 for lag in known_lags) else None

            assert await wait_until(caught_up, timeout=30)
            assert (await client.get(f"{base}/ready")).json()["consumer_lag"] == 0
    except BaseException:
        print(service.tail(80))
        raise
    finally:
        if service.process is not None and service.process.poll() is None:
            service.process.terminate()  # SIGTERM, as a supervisor stops it
            service.process.wait(timeout=30)

    beats = await collect_events(
        kafka_bootstrap,
        OPS_HEARTBEAT,
        namespace=namespace,
        count=1,
        where=lambda event: event.data["instance"] == instance and event.data["status"] == "stopping",
        timeout=20,
    )
    assert beats, "a stopping worker says so"
    everything = await collect_events(
        kafka_bootstrap,
        OPS_HEARTBEAT,
        namespace=namespace,
        count=10_000,
        where=lambda event: event.data["instance"] == instance,
        timeout=5,
    )
    statuses = [event.data["status"] for event in everything]
    assert statuses[0] == "starting" and "ready" in statuses and statuses[-1] == "stopping", statuses
    assert statuses.index("ready") > 0 and set(statuses) == {"starting", "ready", "stopping"}
    last = everything[-1].data
    assert last["interval_seconds"] == 1 and last["last_error"].startswith("dead_lettered: ")
    assert last["consumer_lag"] == 0 and set(last["lag"]) and all(v == 0 for v in last["lag"].values())
