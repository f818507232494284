"""Push, updates and health, through a real feed_ingest process, a real broker, a real feed
server and a real WebSub hub on loopback (issue 5 §2, §4, §5, §7)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from shared.topics import FEED_HEALTH, FEEDS
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.fakes.websub_hub import WebSubHub
from tests.integration.test_feed_ingest import items_now
from tests.support.kafka import collect_events, subscribe_feed, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, feed_ingest_env

pytestmark = pytest.mark.integration
TOKEN = "ping-secret"


def item(n: int, title: str | None = None) -> dict[str, str]:
    return {
        "title": title or f"Council news {n}",
        "link": f"https://www.lowshire.example/news/{n}",
        "guid": f"lowshire-{n}",
        "pubDate": f"Mon, {n:02d} Jun 2025 09:00:00 GMT",
    }


def with_hub(xml: str, hub: str, self_url: str) -> str:
    links = (
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="hub" href="{hub}"/>'
        f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="{self_url}"/>'
    )
    return xml.replace("<channel>", "<channel>" + links, 1)


async def test_websub_ping_updates_moves_and_broken_feeds(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
):
    namespace = herald_topics
    items_topic = namespace + "herald.feed-items"
    port = free_port()
    env = feed_ingest_env(
        kafka_bootstrap,
        namespace,
        tmp_path / "state",
        port,
        HERALD_PING_TOKEN=TOKEN,
        HERALD_WEBSUB_CALLBACK_BASE_URL=f"http://127.0.0.1:{port}",
        HERALD_WEBSUB_SECRET="master-secret",
        HERALD_FEED_BROKEN_AFTER_SECONDS="1",
    )
    with FeedServer() as server, WebSubHub() as hub:
        url = server.url("/news.xml")
        server.set_feed("/news.xml", with_hub(rss_xml([item(2), item(1)]), hub.url, url))
        server.set_status("/down.xml", 503)
        server.set_feed("/old.xml", "", status=301, headers={"Location": server.url("/new.xml")})
        server.set_feed("/new.xml", rss_xml([item(1)]))
        service = ServiceProcess("feed_ingest", env, port, tmp_path)
        await asyncio.to_thread(service.start)
        try:
            feed_id = await subscribe_feed(kafka_bootstrap, namespace, url)
            down_id = await subscribe_feed(kafka_bootstrap, namespace, server.url("/down.xml"), interval=5)
            old_id = await subscribe_feed(kafka_bootstrap, namespace, server.url("/old.xml"))

            # Discovery, subscription, intent verified by the hub's GET challenge.
            await wait_until(lambda: url in hub.verified or hub.refused, timeout=30)
            assert hub.refused == []
            request = hub.requests[0]
            assert request["hub.callback"].startswith(f"http://127.0.0.1:{port}/websub/{feed_id}?t=")
            assert hub.refused == []
            assert (
                await asyncio.to_thread(
                    hub.verify_forged, f"http://127.0.0.1:{port}/websub/{feed_id}?t=0", url
                )
                == 404
            )

            # A distribution with a bad signature is refused; a good one is announced at once.
            pushed = with_hub(rss_xml([item(3), item(2), item(1)]), hub.url, url).encode()
            assert await asyncio.to_thread(hub.distribute, url, pushed, forge=True) == 403
            assert await asyncio.to_thread(hub.distribute, url, pushed) == 202
            found = await wait_until(lambda: items_now(kafka_bootstrap, items_topic), timeout=20)
            assert [event.data["title"] for _, event in found] == ["Council news 3"]

            # Ping: wrong token refused; right token polls now (the feed gains item 4).
            server.set_feed(
                "/news.xml", with_hub(rss_xml([item(4), item(3), item(2), item(1)]), hub.url, url)
            )
            ping = f"http://127.0.0.1:{port}/ping"
            wrong = await asyncio.to_thread(
                httpx.post, ping, json={"url": url}, headers={"Authorization": "Bearer no"}
            )
            assert wrong.status_code == 401
            ok = await asyncio.to_thread(
                httpx.post, ping, json={"url": url}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert ok.status_code == 202 and ok.json()["feed_id"] == feed_id
            found = await wait_until(
                lambda: _at_least(items_now(kafka_bootstrap, items_topic), 2), timeout=20
            )

            # An edited item: FeedItemUpdated, never a second discovery.
            server.set_feed(
                "/news.xml",
                with_hub(
                    rss_xml([item(4, "Council news 4 (corrected)"), item(3), item(2), item(1)]), hub.url, url
                ),
            )
            await asyncio.to_thread(
                httpx.post, ping, json={"feed_id": feed_id}, headers={"Authorization": f"Bearer {TOKEN}"}
            )
            found = await wait_until(
                lambda: _at_least(items_now(kafka_bootstrap, items_topic), 3), timeout=20
            )
            types = sorted(event.type for _, event in found)
            assert types == ["herald.feed.item.discovered.v1"] * 2 + ["herald.feed.item.updated.v1"]
            update = next(event for _, event in found if event.type.endswith("updated.v1"))
            assert (
                update.data["changed_fields"] == ["title"]
                and update.data["title"] == "Council news 4 (corrected)"
            )
            discovered_4 = next(e for _, e in found if e.data["title"] == "Council news 4")
            assert update.data["item_id"] == discovered_4.data["item_id"]
            assert update.data["previous_content_hash"] == discovered_4.data["content_hash"]

            # Health: every poll reported; the failing feed turns broken; the moved feed is moved.
            health = await collect_events(
                kafka_bootstrap,
                FEED_HEALTH,
                namespace=namespace,
                count=2,
                where=lambda e: e.type in ("herald.feed.status.changed.v1", "herald.feed.moved.v1"),
                timeout=30,
            )
            kinds = {(e.type, e.data["feed_id"]) for e in health}
            assert ("herald.feed.moved.v1", old_id) in kinds
            assert ("herald.feed.status.changed.v1", down_id) in kinds
            moved = next(e for e in health if e.type == "herald.feed.moved.v1")
            assert moved.data["new_url"] == server.url("/new.xml")
            resubscribed = await collect_events(
                kafka_bootstrap,
                FEEDS,
                namespace=namespace,
                count=1,
                where=lambda e: e.data.get("url") == server.url("/new.xml"),
            )
            assert resubscribed and resubscribed[0].data["feed_id"] == old_id
            polled = await collect_events(
                kafka_bootstrap,
                FEED_HEALTH,
                namespace=namespace,
                count=3,
                where=lambda e: e.data.get("trigger") == "push" or e.data.get("trigger") == "ping",
            )
            assert {e.data["trigger"] for e in polled} == {"push", "ping"}
        except BaseException:
            print(service.tail(80))
            raise
        finally:
            service.stop()


async def _at_least(found, count: int):
    records = await found
    return records if len(records) >= count else None
