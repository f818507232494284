"""Ping → FeedItemDiscovered on Kafka: latency figures (issue 5 §5: p99 under 1 s locally).

Starts a feed server, one feed_ingest worker and a Kafka consumer; N times: the feed gains an
item, `POST /ping` is sent, and the time until that item's FeedItemDiscovered is read back from
herald.feed-items is recorded. Prints p50/p90/p99/max (and JSON). Needs a broker:
    HERALD_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:19092 python bench/push_latency.py [N]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.events import FeedSubscribed  # noqa: E402
from shared.ids import feed_id_for  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import FEED_ITEMS, FEEDS  # noqa: E402
from tests.fakes.feed_server import FeedServer, rss_xml  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402


def item(n: int) -> dict[str, str]:
    return {"title": f"Bench {n}", "link": f"https://bench.example/{n}", "guid": f"bench-{n}"}


async def main(count: int) -> None:
    bootstrap = os.environ["HERALD_KAFKA_BOOTSTRAP_SERVERS"]
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    port, token = free_port(), "bench-token"
    with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
        items = [item(0)]
        server.set_feed("/f.xml", rss_xml(items))
        url = server.url("/f.xml")
        feed_id = feed_id_for(url)
        env = {
            "HERALD_TOPIC_NAMESPACE": namespace,
            "HERALD_STATE_DIR": tmp,
            "HERALD_FEED_INGEST_PORT": str(port),
            "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
            "HERALD_PING_TOKEN": token,
        }
        worker = ServiceProcess("feed_ingest", env, port, Path(tmp))
        await asyncio.to_thread(worker.start)
        consumer = AIOKafkaConsumer(
            namespace + FEED_ITEMS.name, bootstrap_servers=bootstrap, auto_offset_reset="latest"
        )
        try:
            async with EventProducer(bootstrap, source="/herald/bench", namespace=namespace) as producer:
                await producer.send(
                    FEEDS,
                    feed_id,
                    FeedSubscribed(
                        feed_id=feed_id, url=url, interval_seconds=3600, subscribed_at=datetime.now(UTC)
                    ),
                )
            await consumer.start()
            async with httpx.AsyncClient() as client:
                headers = {"Authorization": f"Bearer {token}"}
                while True:  # the baseline poll is done once a ping of the unchanged feed is answered
                    await client.post(
                        f"http://127.0.0.1:{port}/ping", json={"feed_id": feed_id}, headers=headers
                    )
                    await asyncio.sleep(0.5)
                    if server.requests["/f.xml"] >= 2:
                        break
                await consumer.getmany(timeout_ms=500)
                latencies = []
                for n in range(1, count + 1):
                    items.insert(0, item(n))
                    server.set_feed("/f.xml", rss_xml(items[:20]))
                    started = time.perf_counter()
                    await client.post(
                        f"http://127.0.0.1:{port}/ping", json={"feed_id": feed_id}, headers=headers
                    )
                    found = False
                    while not found:
                        for records in (await consumer.getmany(timeout_ms=2000)).values():
                            found = found or any(
                                json.loads(r.value)["data"]["title"] == f"Bench {n}" for r in records
                            )
                    latencies.append((time.perf_counter() - started) * 1000)
        finally:
            await consumer.stop()
            worker.stop()
            await delete_namespace(bootstrap, namespace)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(round(p / 100 * len(latencies))) - 1)]

    figures = {
        "pings": count,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1],
    }
    print(
        f"ping → FeedItemDiscovered on Kafka, {count} pings: "
        + ", ".join(f"{k} {v:.1f}" for k, v in figures.items() if k != "pings")
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
