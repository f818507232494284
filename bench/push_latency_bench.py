"""Ping → FeedItemDiscovered on Kafka: latency figures (issue 5 §5: p99 under 1 s locally).

What it does (about a minute for the defaults on 2 cores, plus the broker's start):
1. a Kafka broker: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker in a temp
   state dir, stopped after (`bench/harness.py`);
2. per round, in a fresh topic namespace (deleted after): the loopback feed server of the tests,
   one real feed_ingest worker (`python -m services.feed_ingest`) subscribed to its feed, and a
   consumer of herald.feed-items; once the worker's baseline poll is done, `--pings` times: the
   feed gains an item, `POST /ping` is sent, and the time until that item's FeedItemDiscovered is
   read back is recorded;
3. `--rounds` rounds (default 3); prints a table of each round's p50/p90/p99/max and their median,
   then one JSON line (`{"bench": "push_latency", ...}`).

Run from the repository root: `python bench/push_latency_bench.py [--pings N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (str(REPO), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import ROUNDS, console, kafka_bootstrap, median  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.events import FeedSubscribed  # noqa: E402
from shared.ids import feed_id_for  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import FEED_ITEMS, FEEDS  # noqa: E402
from tests.fakes.feed_server import FeedServer, rss_xml  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

TOKEN = "bench-token"
BASELINE_SECONDS = 60.0  # longest wait for the worker's first poll of the feed
PING_SECONDS = 30.0  # longest wait for one ping's item on Kafka
FIGURES = ("p50_ms", "p90_ms", "p99_ms", "max_ms")


def item(n: int) -> dict[str, str]:
    return {"title": f"Bench {n}", "link": f"https://bench.example/{n}", "guid": f"bench-{n}"}


def figures(latencies: Sequence[float]) -> dict[str, float]:
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    return {
        "p50_ms": round(pct(50), 1),
        "p90_ms": round(pct(90), 1),
        "p99_ms": round(pct(99), 1),
        "max_ms": round(ordered[-1], 1),
    }


async def one_round(bootstrap: str, pings: int, workdir: Path) -> list[float]:
    """One worker in a fresh namespace; the latency of each ping, in milliseconds."""
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    port = free_port()
    worker: ServiceProcess | None = None
    consumer = AIOKafkaConsumer(
        namespace + FEED_ITEMS.name, bootstrap_servers=bootstrap, auto_offset_reset="latest"
    )
    try:
        with FeedServer() as server:
            items = [item(0)]
            server.set_feed("/f.xml", rss_xml(items))
            url = server.url("/f.xml")
            feed_id = feed_id_for(url)
            env = {
                "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "HERALD_TOPIC_NAMESPACE": namespace,
                "HERALD_STATE_DIR": str(workdir),
                "HERALD_FEED_INGEST_PORT": str(port),
                "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
                "HERALD_PING_TOKEN": TOKEN,
            }
            worker = ServiceProcess("feed_ingest", env, port, workdir)
            await asyncio.to_thread(worker.start)
            async with EventProducer(bootstrap, source="/herald/bench", namespace=namespace) as producer:
                subscribed = FeedSubscribed(
                    feed_id=feed_id, url=url, interval_seconds=3600, subscribed_at=datetime.now(UTC)
                )
                await producer.send(FEEDS, feed_id, subscribed)
            await consumer.start()
            async with httpx.AsyncClient() as client:
                ping = f"http://127.0.0.1:{port}/ping"
                headers = {"Authorization": f"Bearer {TOKEN}"}
                # The baseline poll is done once a ping of the unchanged feed has been answered too.
                deadline = time.monotonic() + BASELINE_SECONDS
                while server.requests["/f.xml"] < 2:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"feed_ingest did not poll the feed within {BASELINE_SECONDS:.0f}s")
                    await client.post(ping, json={"feed_id": feed_id}, headers=headers)
                    await asyncio.sleep(0.5)
                await consumer.getmany(timeout_ms=500)
                latencies = []
                for n in range(1, pings + 1):
                    items.insert(0, item(n))
                    server.set_feed("/f.xml", rss_xml(items[:20]))
                    started = time.perf_counter()
                    await client.post(ping, json={"feed_id": feed_id}, headers=headers)
                    await _await_title(consumer, f"Bench {n}")
                    latencies.append((time.perf_counter() - started) * 1000)
    finally:
        await consumer.stop()
        if worker is not None:
            worker.stop()
        await delete_namespace(bootstrap, namespace)
    return latencies


async def _await_title(consumer: AIOKafkaConsumer, title: str) -> None:
    deadline = time.monotonic() + PING_SECONDS
    while time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            if any(json.loads(record.value)["data"]["title"] == title for record in records):
                return
    raise SystemExit(f"{title!r} was not on herald.feed-items within {PING_SECONDS:.0f}s of its ping")


def show(result: dict[str, Any]) -> None:
    table = Table(
        title=f"ping → FeedItemDiscovered on Kafka ({result['pings_per_round']} pings a round, "
        f"{len(result['rounds'])} rounds, one feed_ingest worker)"
    )
    table.add_column("round")
    for name in FIGURES:
        table.add_column(name.replace("_ms", "") + ", ms", justify="right")
    for number, row in enumerate(result["rounds"], start=1):
        table.add_row(str(number), *(f"{row[name]:.1f}" for name in FIGURES))
    table.add_row("median", *(f"{result['median'][name]:.1f}" for name in FIGURES), style="bold")
    console().print(table)
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=200, help="pings per round (default 200)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    args = parser.parse_args(argv)
    if args.pings < 1 or args.rounds < 1:
        parser.error("--pings and --rounds must be at least 1")
    rounds: list[dict[str, float]] = []
    with kafka_bootstrap() as bootstrap, tempfile.TemporaryDirectory(prefix="herald-push-bench-") as tmp:
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}: {args.pings} pings…", file=sys.stderr)
            workdir = Path(tmp) / f"round-{number}"
            workdir.mkdir()
            rounds.append(figures(asyncio.run(one_round(bootstrap, args.pings, workdir))))
    result = {
        "bench": "push_latency",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "broker": "external" if os.environ.get("HERALD_KAFKA_BOOTSTRAP_SERVERS") else "local",
        "pings_per_round": args.pings,
        "rounds": rounds,
        "median": {name: round(median(row[name] for row in rounds), 1) for name in FIGURES},
    }
    show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
