"""What one feed host sees of a feed_ingest worker, through a real process, broker and feed
server: at most HERALD_FEED_PER_HOST_CONCURRENCY requests at once, and a permanent redirect
announced as FeedMoved with the status the server really sent."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shared.topics import FEED_HEALTH
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.support.kafka import collect_events, subscribe_feed, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

SLOW_FEEDS = 6


def _env(bootstrap: str, namespace: str, state_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_FEED_INGEST_PORT": str(port),
        "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
        "HERALD_POLL_TICK_SECONDS": "0.2",
        **extra,
    }


async def _polled(bootstrap: str, namespace: str, count: int) -> list:
    found = await collect_events(
        bootstrap,
        FEED_HEALTH,
        namespace=namespace,
        count=count,
        where=lambda event: event.type == "herald.feed.polled.v1",
        timeout=5,
    )
    return found if len(found) >= count else []


async def test_per_host_concurrency_setting_bounds_requests_to_one_host(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
):
    port = free_port()
    # Far below the poll concurrency (32): only the per-host limit can hold the worker at 2.
    env = _env(kafka_bootstrap, herald_topics, tmp_path / "state", port, HERALD_FEED_PER_HOST_CONCURRENCY="2")
    with FeedServer() as server:
        for n in range(SLOW_FEEDS):
            server.set_feed(f"/slow{n}.xml", rss_xml([]), delay=1.0)
        service = ServiceProcess("feed_ingest", env, port, tmp_path)
        await asyncio.to_thread(service.start)
        try:
            for n in range(SLOW_FEEDS):
                await subscribe_feed(kafka_bootstrap, herald_topics, server.url(f"/slow{n}.xml"))
            await wait_until(lambda: _polled(kafka_bootstrap, herald_topics, SLOW_FEEDS), timeout=60)
            assert server.max_in_flight == 2
        except BaseException:
            print(service.tail(80))
            raise
        finally:
            service.stop()


async def test_feed_moved_carries_the_redirect_status_the_server_sent(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
):
    port = free_port()
    env = _env(kafka_bootstrap, herald_topics, tmp_path / "state", port)
    with FeedServer() as server:
        server.set_feed("/new.xml", rss_xml([]))
        server.set_redirect("/moved-301.xml", server.url("/new.xml"), 301)
        server.set_redirect("/moved-308.xml", server.url("/new.xml"), 308)
        # A chain: the subscribed URL's own answer (308) is the one announced.
        server.set_redirect("/chain.xml", server.url("/moved-301.xml"), 308)
        service = ServiceProcess("feed_ingest", env, port, tmp_path)
        await asyncio.to_thread(service.start)
        try:
            expected = {}
            for path, status in (("/moved-301.xml", 301), ("/moved-308.xml", 308), ("/chain.xml", 308)):
                expected[await subscribe_feed(kafka_bootstrap, herald_topics, server.url(path))] = status
            moves = await collect_events(
                kafka_bootstrap,
                FEED_HEALTH,
                namespace=herald_topics,
                count=len(expected),
                where=lambda event: event.type == "herald.feed.moved.v1",
                timeout=60,
            )
            assert {event.data["feed_id"]: event.data["http_status"] for event in moves} == expected
            assert {event.data["new_url"] for event in moves} == {server.url("/new.xml")}
        except BaseException:
            print(service.tail(80))
            raise
        finally:
            service.stop()
