"""feed_ingest's fetcher and `check_feed` against a real HTTP server on loopback (no Kafka)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.feed_ingest.check import check_feed
from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher
from shared import __version__
from shared.settings import HeraldSettings
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.support.ports import free_port

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def settings(tmp_path: Path, **overrides: object) -> HeraldSettings:
    values: dict[str, object] = {
        "state_dir": tmp_path,
        "allow_private_networks": True,
        "http_timeout_seconds": 5,
        "user_agent_contact": "https://council.example/herald",
        **overrides,
    }
    return HeraldSettings(**values)  # type: ignore[arg-type]


async def test_conditional_get_and_user_agent(server: FeedServer, tmp_path: Path):
    server.set_feed("/news.xml", rss_xml([{"title": "A", "link": "https://x.example/a", "guid": "a"}]))
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        first = await fetcher.fetch(server.url("/news.xml"))
        assert first.status == "ok" and first.http_status == 200 and b"<rss" in first.body
        assert first.etag and first.last_modified
        ua = server.last_request_headers["/news.xml"]["User-Agent"]
        assert ua == f"Herald/{__version__} (+https://council.example/herald)"
        second = await fetcher.fetch(
            server.url("/news.xml"), etag=first.etag, last_modified=first.last_modified
        )
        assert second.status == "not_modified" and second.http_status == 304
        assert server.not_modified["/news.xml"] == 1
        server.set_feed("/news.xml", rss_xml([{"title": "B", "link": "https://x.example/b", "guid": "b"}]))
        third = await fetcher.fetch(
            server.url("/news.xml"), etag=first.etag, last_modified=first.last_modified
        )
        assert third.status == "ok" and third.etag != first.etag
    finally:
        await fetcher.aclose()


async def test_size_cap_is_enforced_while_streaming(server: FeedServer, tmp_path: Path):
    big = rss_xml([{"title": "x" * 100, "guid": str(n)} for n in range(200)])
    server.set_feed("/big.xml", gzip.compress(big.encode()), headers={"Content-Encoding": "gzip"})
    fetcher = FeedFetcher(settings(tmp_path, max_feed_bytes=4096))
    try:
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(server.url("/big.xml"))  # small on the wire, big once decoded
        assert caught.value.kind == "too_large"
    finally:
        await fetcher.aclose()


async def test_http_errors_carry_the_status(server: FeedServer, tmp_path: Path):
    server.set_status("/broken.xml", 503, "maintenance")
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(server.url("/broken.xml"))
        assert caught.value.kind == "http_error" and caught.value.http_status == 503
        assert "HTTP 503" in caught.value.reason
    finally:
        await fetcher.aclose()


async def test_check_feed_shows_every_item_as_an_envelope(server: FeedServer, tmp_path: Path):
    server.set_feed("/news.xml", (FIXTURES / "rss_guids.xml").read_bytes())
    result = await check_feed(server.url("/news.xml"), settings(tmp_path))
    assert result.ok and result.http_status == 200 and result.item_count == 2
    assert [event.type for event in result.events] == ["herald.feed.item.discovered.v1"] * 2
    first = result.events[0]
    assert first.source == "/herald/feed_ingest"
    assert first.subject == first.data["item_id"]
    assert first.data["feed_url"] == server.url("/news.xml")
    assert first.data["title"] == "Road closure on the A38 this weekend"
    assert first.data["published"] == "2025-06-14T08:30:00Z"
    assert result.events[1].data["link"] == "https://www.lowshire.gov.uk/news/library-hours"


async def test_check_feed_refuses_loopback_unless_allowed(server: FeedServer, tmp_path: Path):
    server.set_feed("/news.xml", (FIXTURES / "rss_guids.xml").read_bytes())
    result = await check_feed(server.url("/news.xml"), settings(tmp_path, allow_private_networks=False))
    assert result.status == "error" and result.error_kind == "unsafe_address"
    assert "loopback" in (result.error or "") and "HERALD_ALLOW_PRIVATE_NETWORKS=1" in (result.error or "")
    assert server.total_requests == 0  # refused before any request


async def test_redirects_are_followed_and_reported(server: FeedServer, tmp_path: Path):
    server.set_feed("/moved.xml", "", status=301, headers={"Location": "/news.xml"})
    server.set_feed("/news.xml", (FIXTURES / "atom.xml").read_bytes(), content_type="application/atom+xml")
    result = await check_feed(server.url("/moved.xml"), settings(tmp_path))
    assert result.ok and result.final_url == server.url("/news.xml") and result.item_count == 2


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/malformed.xml", "malformed"), ("/missing.xml", "http_error")],
)
async def test_check_feed_errors(server: FeedServer, tmp_path: Path, path: str, kind: str):
    server.set_feed("/malformed.xml", (FIXTURES / "malformed.xml").read_bytes(), content_type="text/html")
    result = await check_feed(server.url(path), settings(tmp_path))
    assert result.status == "error" and result.error_kind == kind and result.error
    assert result.events == []


async def test_check_feed_unreachable_and_bad_scheme(tmp_path: Path):
    closed = await check_feed(f"http://127.0.0.1:{free_port()}/feed.xml", settings(tmp_path))
    assert closed.status == "error" and closed.error_kind == "unreachable"
    bad = await check_feed("ftp://www.lowshire.gov.uk/feed.xml", settings(tmp_path))
    assert bad.error_kind == "bad_url" and "only http and https" in (bad.error or "")
