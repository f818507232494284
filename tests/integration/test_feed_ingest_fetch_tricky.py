"""Tricky servers and feeds over real HTTP on loopback (issue 5 §1, §3, §6); no Kafka."""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest

from services.feed_ingest import websub
from services.feed_ingest.check import check_feed
from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher
from services.feed_ingest.parse import parse_feed
from shared.settings import HeraldSettings
from tests.fakes.feed_server import FeedServer, rss_xml

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
DOCS = sorted(
    p.name.removesuffix(".expected.json")
    for p in FIXTURES.glob("*.expected.json")
    if "items" in json.loads(p.read_text())
)
MB = 1024 * 1024


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def settings(tmp_path: Path, **overrides: object) -> HeraldSettings:
    values: dict[str, object] = {
        "state_dir": tmp_path,
        "allow_private_networks": True,
        "http_timeout_seconds": 5,
    }
    return HeraldSettings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", DOCS)
async def test_golden_feeds_over_http_give_their_expected_events(
    server: FeedServer, tmp_path: Path, name: str
):
    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    server.set_feed(
        "/feed",
        (FIXTURES / expected["file"]).read_bytes(),
        content_type=expected["content_type"],
        encoding="gzip",
    )
    result = await check_feed(server.url("/feed"), settings(tmp_path))
    assert result.ok, result.error
    got = [
        {k: e.data[k] for k in ("title", "link", "summary", "published", "tags", "image_urls")}
        for e in result.events
    ]
    want = [
        {k: i[k] for k in ("title", "link", "summary", "published", "tags", "image_urls")}
        for i in expected["items"]
    ]
    if expected["url"] == server.url("/feed"):
        assert got == want
    else:  # relative links resolve against the URL served from: compare what does not depend on it
        assert [g["title"] for g in got] == [w["title"] for w in want]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
async def test_compressed_feeds_are_decoded(server: FeedServer, tmp_path: Path, encoding: str):
    body = rss_xml(
        [{"title": f"Item {n}", "link": f"https://x.example/{n}", "guid": str(n)} for n in range(50)]
    )
    server.set_feed("/feed", body, encoding=encoding)
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        fetched = await fetcher.fetch(server.url("/feed"))
    finally:
        await fetcher.aclose()
    assert fetched.body == body.encode() and fetched.wire_bytes < len(body) // 3
    assert server.last_request_headers["/feed"]["Accept-Encoding"] == "gzip, deflate, br"


def _bomb(encoding: str, size: int) -> bytes:
    zeros = b"\0" * MB
    if encoding == "br":
        return brotli.compress(zeros * (size // MB), quality=1)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(packer.compress(zeros) for _ in range(size // MB)) + packer.flush()


@pytest.mark.parametrize("encoding", ["gzip", "br"])
async def test_decompression_bombs_are_refused_quickly_with_bounded_memory(
    server: FeedServer, tmp_path: Path, encoding: str
):
    bomb = _bomb(encoding, 256 * MB)
    server.set_feed("/bomb", bomb, headers={"Content-Encoding": encoding})
    fetcher = FeedFetcher(settings(tmp_path))  # the default 10 MB cap
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(server.url("/bomb"))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await fetcher.aclose()
    assert caught.value.kind == "decompression_bomb", caught.value.reason
    assert elapsed < 3 and peak < 24 * MB, (elapsed, peak)  # 256 MB expanded would be far over


async def test_huge_bodies_stop_at_the_cap_while_streaming(server: FeedServer, tmp_path: Path):
    server.set_stream("/huge", b"<rss>" + b"x" * 65531, count=16 * 1024)  # 1 GB, no Content-Length
    server.set_feed("/declared", b"x" * (3 * MB))
    fetcher = FeedFetcher(settings(tmp_path, max_feed_bytes=2 * MB))
    try:
        for path in ("/huge", "/declared"):
            with pytest.raises(FeedError) as caught:
                await fetcher.fetch(server.url(path))
            assert caught.value.kind == "too_large", path
    finally:
        await fetcher.aclose()


async def test_slow_and_trickling_servers_time_out(server: FeedServer, tmp_path: Path):
    server.set_feed("/silent", rss_xml([]), delay=3)
    server.set_feed("/trickle", rss_xml([]) + " " * 400, trickle=(20, 0.1))  # never idle 0.5 s, ~2 s in all
    fetcher = FeedFetcher(settings(tmp_path, http_timeout_seconds=0.5), total_timeout_seconds=1.0)
    try:
        with pytest.raises(FeedError) as silent:
            await fetcher.fetch(server.url("/silent"))
        assert silent.value.kind == "timeout" and "reading" in silent.value.reason
        with pytest.raises(FeedError) as trickle:
            await fetcher.fetch(server.url("/trickle"))
        assert trickle.value.kind == "timeout" and "in all" in trickle.value.reason
    finally:
        await fetcher.aclose()


async def test_a_server_that_goes_silent_on_a_kept_alive_connection_times_out(
    server: FeedServer, tmp_path: Path
):
    """The read timeout also holds on a reused connection (no connect phase to wait for)."""
    server.set_feed("/quick", rss_xml([]))
    server.set_feed("/silent", rss_xml([]), delay=3)
    fetcher = FeedFetcher(settings(tmp_path, http_timeout_seconds=0.5), total_timeout_seconds=2.5)
    try:
        assert (await fetcher.fetch(server.url("/quick"))).status == "ok"
        with pytest.raises(FeedError) as silent:
            await fetcher.fetch(server.url("/silent"))
    finally:
        await fetcher.aclose()
    assert silent.value.kind == "timeout" and "reading" in silent.value.reason, silent.value.reason


async def test_redirect_chains_and_permanent_moves(server: FeedServer, tmp_path: Path):
    server.set_feed("/final", rss_xml([{"title": "A", "link": "https://x.example/a"}]))
    server.set_redirect("/p1", "/p2", 301)
    server.set_redirect("/p2", server.url("/final"), 308)
    server.set_redirect("/mixed", "/t1", 301)
    server.set_redirect("/t1", "/final", 302)
    server.set_redirect("/temp", "/final", 307)
    server.set_redirect("/loop", "/loop", 302)
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        assert (await fetcher.fetch(server.url("/p1"))).permanent_redirect == server.url("/final")
        mixed = await fetcher.fetch(server.url("/mixed"))
        assert mixed.url == server.url("/final") and mixed.permanent_redirect == server.url("/t1")
        assert (await fetcher.fetch(server.url("/temp"))).permanent_redirect is None
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(server.url("/loop"))
        assert caught.value.kind == "too_many_redirects"
    finally:
        await fetcher.aclose()


async def test_cache_control_304_and_retry_after_are_surfaced(server: FeedServer, tmp_path: Path):
    server.set_feed("/feed", rss_xml([]), headers={"Cache-Control": "public, max-age=600"})
    server.set_status("/busy", 429, "slow down", headers={"Retry-After": "120"})
    server.set_status("/down", 503, "maintenance", headers={"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"})
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        first = await fetcher.fetch(server.url("/feed"))
        assert first.min_next_poll_seconds == 600
        again = await fetcher.fetch(server.url("/feed"), etag=first.etag)
        assert again.status == "not_modified" and again.min_next_poll_seconds == 600
        with pytest.raises(FeedError) as busy:
            await fetcher.fetch(server.url("/busy"))
        assert busy.value.http_status == 429 and busy.value.retry_after_seconds == 120
        with pytest.raises(FeedError) as down:
            await fetcher.fetch(server.url("/down"))
        assert down.value.http_status == 503 and down.value.retry_after_seconds == 7 * 24 * 3600  # clamped
    finally:
        await fetcher.aclose()


async def test_per_host_concurrency_limit(server: FeedServer, tmp_path: Path):
    import asyncio

    for n in range(6):
        server.set_feed(f"/slow{n}", rss_xml([]), delay=0.3)
    fetcher = FeedFetcher(settings(tmp_path), per_host_limit=2)
    try:
        await asyncio.gather(*(fetcher.fetch(server.url(f"/slow{n}")) for n in range(6)))
    finally:
        await fetcher.aclose()
    assert server.max_in_flight == 2 and len(fetcher.hosts) == 0


@pytest.fixture
def inner() -> Iterator[FeedServer]:
    """A second server on another loopback address: "the intranet" for redirect tests."""
    with FeedServer(host="127.0.0.2") as running:
        yield running


async def test_redirect_to_a_private_address_is_refused(
    server: FeedServer, inner: FeedServer, tmp_path: Path
):
    inner.set_feed("/secret", rss_xml([]))
    server.set_redirect("/feed", inner.url("/secret"), 302)
    server.set_feed("/ok", rss_xml([]))
    # Only 127.0.0.1 (the "public" feed host in this test) is let through; 127.0.0.2 is loopback.
    fetcher = FeedFetcher(settings(tmp_path, allow_private_networks=False), trusted_addresses=["127.0.0.1"])
    try:
        assert (await fetcher.fetch(server.url("/ok"))).status == "ok"  # the hook lets the first hop in
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(server.url("/feed"))
    finally:
        await fetcher.aclose()
    assert caught.value.kind == "unsafe_address" and "127.0.0.2" in caught.value.reason
    assert inner.total_requests == 0 and server.requests["/feed"] == 1


async def test_a_hostname_is_resolved_once_and_the_vetted_address_used(
    server: FeedServer, inner: FeedServer, tmp_path: Path
):
    """DNS rebinding: a second lookup would answer the intranet; Herald never makes one."""
    server.set_feed("/feed", rss_xml([{"title": "public", "link": "https://x.example/p"}]))
    inner.set_feed("/feed", rss_xml([{"title": "intranet", "link": "https://x.example/i"}]))
    answers = iter([["127.0.0.1"]] + [["127.0.0.2"]] * 10)
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    fetcher = FeedFetcher(
        settings(tmp_path, allow_private_networks=False), resolver=rebinding, trusted_addresses=["127.0.0.1"]
    )
    url = f"http://feeds.lowshire.example:{server.port}/feed"
    try:
        fetched = await fetcher.fetch(url)
    finally:
        await fetcher.aclose()
    feed = parse_feed(fetched.body, url=url, feed_id="f")
    assert [e.title for e in feed.entries] == ["public"] and inner.total_requests == 0
    assert calls == ["feeds.lowshire.example"]
    assert list(fetcher.vetting.connections) == [("feeds.lowshire.example", "127.0.0.1")]
    assert server.last_request_headers["/feed"]["Host"] == f"feeds.lowshire.example:{server.port}"


async def test_a_name_is_looked_up_again_after_its_ttl_and_vetted_again(server: FeedServer, tmp_path: Path):
    """A named host's vetted addresses serve its polls for `dns_ttl_seconds` (one lookup, however
    many polls); then it is looked up and vetted anew, and a host that now answers 127.0.0.2 is
    refused before any request."""
    server.set_feed("/kept", rss_xml([]))
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["127.0.0.2"]])

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    base = f"http://feeds.lowshire.example:{server.port}"
    cached = FeedFetcher(
        settings(tmp_path, allow_private_networks=False), resolver=rebinding, trusted_addresses=["127.0.0.1"]
    )
    try:
        for _ in range(3):
            assert (await cached.fetch(base + "/kept")).status == "ok"
    finally:
        await cached.aclose()
    assert calls == ["feeds.lowshire.example"]

    answers = iter([["127.0.0.1"], ["127.0.0.2"]])
    expiring = FeedFetcher(
        settings(tmp_path, allow_private_networks=False),
        resolver=rebinding,
        trusted_addresses=["127.0.0.1"],
        dns_ttl_seconds=0,
    )
    try:
        assert (await expiring.fetch(base + "/kept")).status == "ok"
        with pytest.raises(FeedError) as caught:
            await expiring.fetch(base + "/kept")
    finally:
        await expiring.aclose()
    assert caught.value.kind == "unsafe_address" and "127.0.0.2" in caught.value.reason
    assert list(expiring.vetting.connections) == [("feeds.lowshire.example", "127.0.0.1")]
    assert server.requests["/kept"] == 4


async def test_a_hostname_resolving_to_loopback_is_refused_without_a_request(
    server: FeedServer, tmp_path: Path
):
    server.set_feed("/feed", rss_xml([]))

    async def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    fetcher = FeedFetcher(settings(tmp_path, allow_private_networks=False), resolver=to_loopback)
    try:
        with pytest.raises(FeedError) as caught:
            await fetcher.fetch(f"http://news.lowshire.example:{server.port}/feed")
    finally:
        await fetcher.aclose()
    assert caught.value.kind == "unsafe_address" and "loopback" in caught.value.reason
    assert server.total_requests == 0


async def test_a_websub_hub_is_vetted_like_a_feed(tmp_path: Path):
    fetcher = FeedFetcher(settings(tmp_path, allow_private_networks=False))
    try:
        with pytest.raises(websub.WebSubError) as caught:
            await websub.subscribe(
                fetcher.session,
                hub="http://169.254.169.254/hub",
                topic="https://x.example/feed",
                callback="https://herald.example/websub/f?t=x",
                secret="s",
                lease_seconds=3600,
            )
    finally:
        await fetcher.aclose()
    assert "refused" in str(caught.value) and "cloud metadata" in str(caught.value)


async def test_external_entities_are_never_fetched(server: FeedServer, tmp_path: Path):
    server.set_feed("/secret", "top secret", content_type="text/plain")
    server.set_feed(
        "/xxe",
        f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY s SYSTEM "{server.url("/secret")}">]>
<rss version="2.0"><channel><title>&s;</title><item><title>&s;</title><link>https://x.example/a</link></item></channel></rss>""",
    )
    server.set_feed(
        "/dtd",
        f"""<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{server.url("/secret")}">
<rss version="2.0"><channel><title>T</title><item><title>A</title><link>https://x.example/a</link></item></channel></rss>""",
    )
    xxe = await check_feed(server.url("/xxe"), settings(tmp_path))
    dtd = await check_feed(server.url("/dtd"), settings(tmp_path))
    assert xxe.error_kind == "unsafe_xml" and "XXE" in (xxe.error or "")
    assert dtd.ok and dtd.item_count == 1
    assert server.requests["/secret"] == 0


async def test_cookies_are_never_sent_back(server: FeedServer, tmp_path: Path):
    """A feed server's Set-Cookie is not kept: the next poll carries no Cookie (no state from one
    fetch to the next, and no jar growing with every host). A named host: cookie jars ignore
    cookies from IP addresses anyway."""
    server.set_feed("/feed", rss_xml([]), headers={"Set-Cookie": "session=abc; Path=/"})

    async def to_server(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    fetcher = FeedFetcher(settings(tmp_path), resolver=to_server)
    url = f"http://feeds.lowshire.example:{server.port}/feed"
    try:
        for _ in range(2):
            assert (await fetcher.fetch(url)).status == "ok"
            assert "Cookie" not in server.last_request_headers["/feed"]
    finally:
        await fetcher.aclose()


async def test_pooled_handles_keep_nothing_of_their_last_response(server: FeedServer, tmp_path: Path):
    """A handle back in the pool holds no body or headers (a feed may be megabytes)."""
    server.set_feed(
        "/feed", rss_xml([{"title": f"Item {n}", "link": f"https://x.example/{n}"} for n in range(50)])
    )
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        assert len((await fetcher.fetch(server.url("/feed"))).body) > 1000
        idle = fetcher._idle
        assert idle and all(t.body() == b"" and t.headers == [] and t.url == "" for t in idle)
    finally:
        await fetcher.aclose()
