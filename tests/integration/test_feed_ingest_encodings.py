"""Feeds in hard encodings, and a Content-Location, over real HTTP: the worker's poll and
`herald feeds check` end with items or a feed error, never a crash, and relative links resolve
where feedparser resolves them when it fetches the same feed itself."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import feedparser
import pytest

from services.feed_ingest.check import check_feed
from services.feed_ingest.fetch import FeedFetcher
from services.feed_ingest.parse import parse_feed
from services.feed_ingest.urls import document_base
from shared.events import FeedSubscribed
from shared.ids import feed_id_for
from shared.producer import EventProducer
from shared.settings import HeraldSettings
from shared.topics import FEED_HEALTH, FEED_ITEMS, FEEDS
from tests.fakes.feed_server import FeedServer
from tests.support.kafka import collect_events
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, feed_ingest_env

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
EBCDIC = (FIXTURES / "ebcdic_cp500.xml").read_bytes()
SHIFT_JIS = (FIXTURES / "shift_jis_undeclared.xml").read_bytes()
#: Each body as served, and what a poll of it must end as.
SERVED = {
    "/ebcdic.xml": (EBCDIC, "application/rss+xml"),
    "/sjis.xml": (SHIFT_JIS, "text/xml"),
    "/ebcdic-cut.xml": (EBCDIC[:150], "application/rss+xml"),  # truncated inside the channel
}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        for path, (body, content_type) in SERVED.items():
            running.set_feed(path, body, content_type=content_type)
        yield running


def settings(tmp_path: Path) -> HeraldSettings:
    return HeraldSettings(
        state_dir=tmp_path,
        allow_private_networks=True,
        http_timeout_seconds=5,
        user_agent_contact="https://council.example/herald",
    )


async def test_feeds_check_reads_ebcdic_and_undeclared_shift_jis(server: FeedServer, tmp_path: Path):
    ebcdic = await check_feed(server.url("/ebcdic.xml"), settings(tmp_path))
    assert ebcdic.ok and ebcdic.feed_title == "Zürich Gemeinde - Nachrichten"
    assert [e.data["title"] for e in ebcdic.events] == [
        "Straßensperrung am Müllerplatz",
        "Fête de la ville: été",
    ]
    sjis = await check_feed(server.url("/sjis.xml"), settings(tmp_path))
    assert sjis.ok and sjis.item_count == 1 and "read as latin-1" in sjis.warnings[0]
    cut = await check_feed(server.url("/ebcdic-cut.xml"), settings(tmp_path))
    assert cut.status == "error" and cut.error_kind == "malformed"


async def test_a_worker_polls_them_to_items_or_a_feed_error(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, server: FeedServer
):
    namespace = herald_topics
    port = free_port()
    env = feed_ingest_env(kafka_bootstrap, namespace, state_dir, port)
    feeds = {feed_id_for(server.url(path)): path for path in SERVED}
    service = ServiceProcess("feed_ingest", env, port, tmp_path)
    await asyncio.to_thread(service.start)
    try:
        async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=namespace) as producer:
            for feed_id, path in feeds.items():
                subscription = FeedSubscribed(
                    feed_id=feed_id,
                    url=server.url(path),
                    interval_seconds=300,
                    backfill=10,  # the first poll announces what it read
                    subscribed_at=datetime.now(UTC),
                )
                await producer.send(FEEDS, feed_id, subscription)
        polled = await collect_events(
            kafka_bootstrap,
            FEED_HEALTH,
            namespace=namespace,
            count=len(feeds),
            where=lambda event: event.type == "herald.feed.polled.v1" and event.data["feed_id"] in feeds,
            timeout=60,
        )
        outcomes = {feeds[e.data["feed_id"]]: (e.data["outcome"], e.data["error_kind"]) for e in polled}
        assert outcomes == {
            "/ebcdic.xml": ("ok", None),
            "/sjis.xml": ("ok", None),
            "/ebcdic-cut.xml": ("error", "malformed"),
        }
        sjis = next(e for e in polled if feeds[e.data["feed_id"]] == "/sjis.xml")
        assert sjis.data["items_new"] == 1 and "read as latin-1" in sjis.data["warnings"][0]
        items = await collect_events(kafka_bootstrap, FEED_ITEMS, namespace=namespace, count=3, timeout=30)
        titles = {e.data["title"] for e in items if feeds.get(e.data["feed_id"]) == "/ebcdic.xml"}
        assert titles == {"Straßensperrung am Müllerplatz", "Fête de la ville: été"}
    except BaseException:
        print(service.tail(80))
        raise
    finally:
        service.stop()


RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
<link>../</link><item><title>A</title><link>items/a</link><guid>items/a</guid>
<enclosure url="img/a.jpg" type="image/jpeg" length="1"/></item>
<item><title>B</title><link>/items/b</link>
<description>&lt;a href="more"&gt;more&lt;/a&gt;</description></item>
</channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<id>t</id><updated>2025-06-01T00:00:00Z</updated><link href="./"/>
<entry><title>A</title><id>a</id><updated>2025-06-01T00:00:00Z</updated><link href="items/a"/>
<content type="html">&lt;img src="pics/a.png"&gt;</content></entry>
<entry xml:base="/other/"><title>B</title><id>b</id><updated>2025-06-01T00:00:00Z</updated>
<link href="items/b"/></entry></feed>"""


@pytest.mark.parametrize("body", [RSS, ATOM], ids=["rss", "atom"])
@pytest.mark.parametrize(
    "location", ["/news/feeds/all.xml", "v2/", "http://cdn.lowshire.example/f/", "javascript:x()", None]
)
async def test_links_resolve_where_feedparser_resolves_them(
    server: FeedServer, tmp_path: Path, body: bytes, location: str | None
):
    """feedparser fetching the feed itself (through a redirect) is the oracle."""
    headers = {"Content-Location": location} if location else None
    server.set_feed("/feeds/latest", body, content_type="application/xml", headers=headers)
    server.set_redirect("/feed", "/feeds/latest")
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        fetched = await fetcher.fetch(server.url("/feed"))
    finally:
        await fetcher.aclose()
    assert fetched.headers.get("content-location") == location
    ours = parse_feed(fetched.body, url=fetched.url, feed_id="f", headers=fetched.headers)
    theirs = await asyncio.to_thread(feedparser.parse, server.url("/feed"))
    assert theirs.href == fetched.url and len(theirs.entries) == len(ours.entries) == 2
    assert [entry.link for entry in ours.entries] == [entry.link for entry in theirs.entries]
    assert ours.site_link == theirs.feed.link
    assert theirs.feed.title_detail.base == document_base(fetched.url, location)
    checked = 0
    for mine, reference in zip(ours.entries, theirs.entries, strict=True):
        base = reference.title_detail.base  # feedparser's base for the item (xml:base included)
        images = [e.href for e in reference.get("enclosures", []) if e.type.startswith("image/")]
        assert list(mine.image_urls) == [urljoin(base, image) for image in images]  # it keeps them raw
        html = " ".join(c.value for c in reference.get("content", [])) or reference.get("summary", "")
        for url in re.findall(r'(?:href|src)="([^"]+)"', html):
            assert f'"{url}"' in mine.content_html
            checked += 1
    assert checked == 1  # the one relative URL in HTML each document has
