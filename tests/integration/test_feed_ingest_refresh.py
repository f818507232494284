"""`herald feeds poll --all` and `herald feeds poll URL` through the real CLI, a real feed_ingest
process, a real broker and a loopback feed server: every active feed is polled once more at once
(as a "ping", on herald.ops.feed-health), a paused feed never, and a named feed once more."""

from __future__ import annotations

import asyncio
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka.partitioner import DefaultPartitioner

from herald.topic_reader import read_to_end
from shared.envelope import CloudEvent
from shared.ids import feed_id_for
from shared.topics import FEED_HEALTH, FEEDS
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.support.kafka import collect_events, subscribe_feed
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, feed_ingest_env, run_herald

pytestmark = pytest.mark.integration

POLLED = "herald.feed.polled.v1"
ACTIVE = 5
#: No scheduled poll within the test: every poll after a feed's first is one the CLI asked for.
INTERVAL = 3600


def item(n: int) -> dict[str, str]:
    return {"title": f"Council news {n}", "link": f"https://www.lowshire.example/news/{n}", "guid": f"n-{n}"}


def herald(bootstrap: str, namespace: str, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
    }
    return run_herald(*args, env=env)


def feeds_partition(feed_id: str) -> int:
    partitions = list(range(FEEDS.partitions))
    return DefaultPartitioner()(feed_id.encode(), partitions, partitions)


def spread_paths(server: FeedServer, count: int) -> list[str]:
    """`count` feed paths whose feed ids cover every partition of herald.feeds (the URLs carry the
    server's random port, so the paths are found per run, not fixed)."""
    paths: list[str] = []
    covered: set[int] = set()
    n = 0
    while len(paths) < count:
        path = f"/news-{n}.xml"
        n += 1
        partition = feeds_partition(feed_id_for(server.url(path)))
        if partition not in covered or count - len(paths) > FEEDS.partitions - len(covered):
            paths.append(path)
            covered.add(partition)
    return paths


async def polls_now(bootstrap: str, namespace: str) -> dict[str, list[CloudEvent]]:
    """Every FeedPolled on herald.ops.feed-health up to its current end, by feed, in order (the
    topic is keyed by feed id, so one feed's polls are in one partition)."""
    found: dict[str, list[CloudEvent]] = defaultdict(list)
    async for record in read_to_end(bootstrap, FEED_HEALTH, namespace=namespace):
        event = CloudEvent.model_validate_json(record.value)
        if event.type == POLLED:
            found[event.data["feed_id"]].append(event)
    return found


async def test_poll_all_polls_every_active_feed_now_and_poll_url_one(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
):
    namespace = herald_topics
    port = free_port()
    env = feed_ingest_env(kafka_bootstrap, namespace, state_dir, port)

    def pings(event: CloudEvent) -> bool:
        return event.type == POLLED and event.data["trigger"] == "ping"

    with FeedServer() as server:
        paths = spread_paths(server, ACTIVE)
        for n, path in enumerate(paths):
            server.set_feed(path, rss_xml([item(n)]))
        server.set_feed("/paused.xml", rss_xml([item(99)]))
        urls = [server.url(path) for path in paths]
        service = ServiceProcess("feed_ingest", env, port, tmp_path)
        await asyncio.to_thread(service.start)
        try:
            active = [
                await subscribe_feed(kafka_bootstrap, namespace, url, interval=INTERVAL) for url in urls
            ]
            paused = await subscribe_feed(
                kafka_bootstrap, namespace, server.url("/paused.xml"), interval=INTERVAL, paused=True
            )
            assert {feeds_partition(feed_id) for feed_id in active} == set(range(FEEDS.partitions))

            # Each active feed's first poll (its baseline), and nothing more is due for an hour.
            firsts = await collect_events(
                kafka_bootstrap,
                FEED_HEALTH,
                namespace=namespace,
                count=ACTIVE,
                where=lambda e: e.type == POLLED and e.data["trigger"] == "first",
                timeout=60,
            )
            assert sorted(e.data["feed_id"] for e in firsts) == sorted(active)

            # A feed nobody subscribed to is a one-line user error.
            unknown = await asyncio.to_thread(
                herald, kafka_bootstrap, namespace, state_dir, "feeds", "poll", server.url("/other.xml")
            )
            assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
            assert "no subscribed feed" in unknown.stderr

            # --all: a refresh per partition; each owner polls every active feed there once, now,
            # conditionally (the server's ETag: 304), reported as a ping. The paused feed: never.
            everything = await asyncio.to_thread(
                herald, kafka_bootstrap, namespace, state_dir, "feeds", "poll", "--all"
            )
            assert everything.returncode == 0, everything.stderr
            assert "every feed" in everything.stdout
            refreshed = await collect_events(
                kafka_bootstrap, FEED_HEALTH, namespace=namespace, count=ACTIVE, where=pings, timeout=30
            )
            assert sorted(e.data["feed_id"] for e in refreshed) == sorted(active)
            assert {(e.data["outcome"], e.data["http_status"]) for e in refreshed} == {("not_modified", 304)}

            # One feed by URL: that feed once more, no other.
            one = await asyncio.to_thread(
                herald, kafka_bootstrap, namespace, state_dir, "feeds", "poll", urls[0]
            )
            assert one.returncode == 0, one.stderr
            assert active[0] in one.stdout
            await collect_events(
                kafka_bootstrap, FEED_HEALTH, namespace=namespace, count=ACTIVE + 1, where=pings, timeout=30
            )
            polls = await polls_now(kafka_bootstrap, namespace)
            triggers = {feed_id: [e.data["trigger"] for e in events] for feed_id, events in polls.items()}
            assert triggers == {
                active[0]: ["first", "ping", "ping"],
                **{feed_id: ["first", "ping"] for feed_id in active[1:]},
            }
            assert paused not in polls
            assert [server.requests[path] for path in paths] == [3] + [2] * (ACTIVE - 1)
            assert server.requests["/paused.xml"] == 0
        except BaseException:
            print(service.tail(80))
            raise
        finally:
            service.stop()
