"""Relative links resolve against Content-Location, as feedparser resolves them; xml:base inside the
document still wins. The oracle, feedparser fetching the same feed itself over HTTP, is in
tests/integration/test_feed_ingest_encodings.py."""

from __future__ import annotations

import dataclasses

import pytest

from services.feed_ingest.parse import _parse, parse_feed
from services.feed_ingest.urls import document_base

URL = "https://www.lowshire.gov.uk/feed?format=rss"


@pytest.mark.parametrize(
    ("location", "base"),
    [
        (None, URL),
        ("", URL),
        ("/news/feeds/all.rss", "https://www.lowshire.gov.uk/news/feeds/all.rss"),
        ("v2/all.rss", "https://www.lowshire.gov.uk/v2/all.rss"),
        ("https://cdn.lowshire.example/feeds/all.rss", "https://cdn.lowshire.example/feeds/all.rss"),
        ("javascript:alert(1)", URL),  # a scheme feedparser does not accept: ignored
        ("data:text/xml,x", URL),
    ],
)
def test_the_base_is_content_location_resolved_against_the_url(location: str | None, base: str):
    assert document_base(URL, location) == base


RSS = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
<link>../</link><item><title>A</title><link>items/a</link><guid>items/a</guid></item></channel></rss>"""
RSS_WITH_HTML = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>B</title>
<link>items/b</link><description>&lt;a href="more"&gt;more&lt;/a&gt;</description></item></channel></rss>"""
ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
<id>t</id><updated>2025-06-01T00:00:00Z</updated><link rel="self" href="self.atom"/>
<entry><title>A</title><id>a</id><updated>2025-06-01T00:00:00Z</updated><link href="items/a"/></entry>
<entry xml:base="https://other.example/base/"><title>B</title><id>b</id>
<updated>2025-06-01T00:00:00Z</updated><link href="items/b"/></entry></feed>"""
JSON = b"""{"version": "https://jsonfeed.org/version/1.1", "title": "T", "feed_url": "self.json",
"items": [{"id": "1", "url": "items/a", "content_text": "x"}]}"""
LOCATION = {"Content-Location": "/news/feeds/all.rss"}


def _links(body: bytes, headers: dict[str, str]) -> list[str | None]:
    feed = parse_feed(body, url=URL, feed_id="f", headers={"Content-Type": "application/xml", **headers})
    return [entry.link for entry in feed.entries]


def test_rss_links_resolve_against_content_location():
    feed = parse_feed(RSS, url=URL, feed_id="f", headers=LOCATION)
    assert feed.parser == "fastparse"
    assert [entry.link for entry in feed.entries] == ["https://www.lowshire.gov.uk/news/feeds/items/a"]
    assert feed.site_link == "https://www.lowshire.gov.uk/news/"
    assert _links(RSS, {}) == ["https://www.lowshire.gov.uk/items/a"]  # without it: the URL


@pytest.mark.parametrize("body", [RSS, RSS_WITH_HTML, ATOM], ids=["rss", "rss_html", "atom"])
def test_the_fast_path_and_feedparser_use_the_same_base(body: bytes):
    fast = _parse(body, url=URL, feed_id="f", headers=LOCATION, fast=True)
    slow = _parse(body, url=URL, feed_id="f", headers=LOCATION, fast=False)
    assert dataclasses.replace(fast, parser="feedparser") == slow


def test_html_in_items_resolves_against_content_location():
    feed = parse_feed(RSS_WITH_HTML, url=URL, feed_id="f", headers=LOCATION)
    assert feed.parser == "feedparser"  # a relative href is feedparser's to rewrite
    assert 'href="https://www.lowshire.gov.uk/news/feeds/more"' in feed.entries[0].content_html


def test_xml_base_in_the_document_still_wins():
    feed = parse_feed(ATOM, url=URL, feed_id="f", headers=LOCATION)
    assert [entry.link for entry in feed.entries] == [
        "https://www.lowshire.gov.uk/news/feeds/items/a",
        "https://other.example/base/items/b",
    ]
    assert feed.self_url == "https://www.lowshire.gov.uk/news/feeds/self.atom"


def test_json_feed_links_use_the_same_base():
    feed = parse_feed(JSON, url=URL, feed_id="f", headers=LOCATION)
    assert [entry.link for entry in feed.entries] == ["https://www.lowshire.gov.uk/news/feeds/items/a"]
    assert feed.self_url == "https://www.lowshire.gov.uk/news/feeds/self.json"


def test_an_unacceptable_location_leaves_the_url_as_base():
    assert _links(RSS, {"Content-Location": "javascript:alert(1)"}) == ["https://www.lowshire.gov.uk/items/a"]
