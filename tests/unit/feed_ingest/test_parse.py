"""Parsing golden feeds (tests/fixtures/feeds/*.xml beside their *.expected.json)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feed_ingest.errors import FeedError
from services.feed_ingest.parse import parse_feed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


def test_markup_never_reaches_titles_or_summaries():
    feed = parse_feed(
        (FIXTURES / "rss_guids.xml").read_bytes(), url="https://www.lowshire.gov.uk/news.rss", feed_id="f"
    )
    for parsed in feed.entries:
        for text in (parsed.title, parsed.summary):
            assert "<" not in text and "alert(1)" not in text


def test_malformed_document_is_a_clear_error():
    with pytest.raises(FeedError) as caught:
        parse_feed(
            (FIXTURES / "malformed.xml").read_bytes(), url="https://www.lowshire.gov.uk/news.rss", feed_id="f"
        )
    assert caught.value.kind == "malformed"
    assert "not a readable RSS/Atom feed" in caught.value.reason


def test_bytes_that_look_like_a_url_are_not_fetched():
    # feedparser fetches a bare string that looks like a URL; Herald must only ever parse bytes.
    with pytest.raises(FeedError):
        parse_feed(b"http://127.0.0.1:9/feed.xml", url="https://www.lowshire.gov.uk/news.rss", feed_id="f")


def test_recoverable_problems_become_warnings():
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>Fish & chips</title><link>https://x.example/a</link></item></channel></rss>"""
    feed = parse_feed(body, url="https://x.example/feed", feed_id="f")
    assert [e.link for e in feed.entries] == ["https://x.example/a"]
    assert feed.warnings


def _rss(items: str) -> bytes:
    return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
    <link>https://x.example/</link>{items}</channel></rss>""".encode()


def test_a_link_unique_in_the_fetch_is_an_alias_so_changing_guids_repeat_nothing():
    poll_1 = parse_feed(
        _rss("<item><guid>a-1</guid><link>https://x.example/a</link></item>"), url="u", feed_id="f"
    )
    poll_2 = parse_feed(
        _rss("<item><guid>a-2</guid><link>https://x.example/a</link></item>"), url="u", feed_id="f"
    )
    assert poll_1.entries[0].item_id != poll_2.entries[0].item_id
    assert set(poll_1.entries[0].identity_keys) & set(poll_2.entries[0].identity_keys)


def test_a_link_shared_by_several_items_is_no_alias():
    feed = parse_feed(
        _rss(
            "<item><guid>e1</guid><title>Fair</title><link>https://x.example/events</link></item>"
            "<item><guid>e2</guid><title>Show</title><link>https://x.example/events</link></item>"
        ),
        url="u",
        feed_id="f",
    )
    assert [len(e.identity_keys) for e in feed.entries] == [1, 1]
    assert feed.entries[0].item_id != feed.entries[1].item_id


def test_duplicate_guids_fall_back_to_links():
    feed = parse_feed(
        _rss(
            "<item><guid>same</guid><link>https://x.example/a</link></item>"
            "<item><guid>same</guid><link>https://x.example/b</link></item>"
        ),
        url="u",
        feed_id="f",
    )
    assert feed.entries[0].item_id != feed.entries[1].item_id


def test_relative_links_resolve_against_the_feed_url():
    feed = parse_feed(
        _rss("<item><title>A</title><link>/news/a</link></item>"),
        url="https://x.example/feeds/news.xml",
        feed_id="f",
    )
    assert feed.entries[0].link == "https://x.example/news/a"


def test_declared_windows_1252_encoding():
    body = (
        '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>Caf\xe9 opens \x96 \x93soon\x94</title><link>https://x.example/c</link></item></channel></rss>"
    ).encode("latin-1")
    feed = parse_feed(
        body, url="https://x.example/feed", feed_id="f", headers={"Content-Type": "application/xml"}
    )
    assert feed.entries[0].title == "Café opens – “soon”"


def test_an_encoding_name_feedparser_cannot_look_up_is_a_feed_error():
    """Found by test_parse_fuzz: under a non-XML media type feedparser decodes with the name on
    the first line first, and a NUL in it raised ValueError out of parse_feed."""
    body = (
        b'<?xml version="1.0" encoding="\x00UC-JP"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>a</title><link>https://x.example/a</link></item></channel></rss>"
    )
    with pytest.raises(FeedError) as caught:
        parse_feed(body, url="https://x.example/f", feed_id="f", headers={"Content-Type": "application/json"})
    assert caught.value.kind == "malformed" and "embedded null character" in caught.value.reason


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_urls_urljoin_cannot_parse_are_dropped_not_raised():
    """Found by test_parse_fuzz: an unclosed IPv6 bracket made urljoin raise ValueError out of
    parse_feed (enclosures, JSON Feed URLs), and out of the HTML cleaner's filter to stderr."""
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>a</title>'
        b'<link>https://x.example/a</link><enclosure url="http://[" type="image/png"/>'
        b'<description>&lt;a href="//["&gt;x&lt;/a&gt;</description></item></channel></rss>'
    )
    entry = parse_feed(body, url="https://x.example/f", feed_id="f").entries[0]
    assert entry.image_urls == () and "[" not in entry.content_html  # feedparser empties the href
    json_feed = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "T", "home_page_url": "http://[",'
        b' "items": [{"id": "1", "url": "http://[::1", "content_html": "<a href=\\"//[\\">x</a>"}]}'
    )
    feed = parse_feed(json_feed, url="https://x.example/f", feed_id="f")
    assert feed.site_link is None and feed.entries[0].link is None
    assert "href" not in feed.entries[0].content_html
