"""The lxml fast path (`fastparse`) gives exactly feedparser's ParsedFeed wherever it claims a feed.

Every document here is parsed twice — as `parse_feed` does (fast path when it claims the
document) and with feedparser only — and the two results must be equal in every field but
`parser`. The documents: every golden fixture, the cases of test_parse.py, bench corpus feeds,
and RSS 2.0 feeds built to hit each field the fast path reads (and each trap it must refuse).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from feedparser.datetimes import _parse_date
from feedparser.sanitizer import _sanitize_html
from feedparser.urls import resolve_relative_uris

from services.feed_ingest.errors import FeedError
from services.feed_ingest.fastparse import _Decline, _inert_html, _pub_date
from services.feed_ingest.parse import ParsedFeed, _parse, parse_feed

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"
URL = "https://www.lowshire.gov.uk/feeds/news.xml"
NAMESPACES = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
    'xmlns:media="http://search.yahoo.com/mrss/" xmlns:atom="http://www.w3.org/2005/Atom"'
)


def rss(
    items: str, channel: str = "<title>Lowshire news</title><link>https://www.lowshire.gov.uk/</link>"
) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" {NAMESPACES}><channel>{channel}'
        f"{items}</channel></rss>"
    ).encode()


def item(inner: str) -> str:
    return f"<item>{inner}</item>"


X = "https://x.example"
#: RSS 2.0 documents the fast path must claim: one per field rule it reproduces.
CLAIMED = {
    "relative_link_and_guid": rss(
        item("<title>A</title><link>/news/a?x=1&amp;y=2</link><guid>/news/a</guid>")
    ),
    "guid_not_permalink": rss(item('<title>B</title><guid isPermaLink="false">b-1</guid>')),
    "guid_permalink_is_the_link": rss(item("<title>C</title><guid>https://www.lowshire.gov.uk/c</guid>")),
    "guid_before_link": rss(item(f"<guid>{X}/g</guid><link>{X}/l</link>")),
    "empty_link_after_guid": rss(item(f"<guid>{X}/g</guid><link> </link><title>E</title>")),
    "content_encoded_only": rss(
        item(
            f"<title>D</title><link>{X}/d</link>"
            "<content:encoded><![CDATA[<p>Full <em>body</em></p>]]></content:encoded>"
        )
    ),
    "description_and_content": rss(
        item(
            f"<title>F</title><link>{X}/f</link><content:encoded>&lt;p&gt;Long&lt;/p&gt;</content:encoded>"
            "<description>Short &amp; sweet</description>"
        )
    ),
    "authors": rss(
        item(f"<title>G</title><link>{X}/g</link><author>Lowshire Press Office</author>")
        + item(f"<title>H</title><link>{X}/h</link><dc:creator> Jo Bloggs </dc:creator>")
        + item(f"<title>I</title><link>{X}/i</link><author></author>")
    ),
    "images": rss(
        item(
            f'<title>J</title><link>{X}/j</link><enclosure url="/img/j.JPG" type="IMAGE/JPEG" length="1"/>'
            f'<enclosure url="{X}/j.mp3" type="audio/mpeg"/>'
            f'<media:content url="{X}/m.png" type="image/png"/><media:content url="{X}/v.mp4"/>'
            f'<media:content url="{X}/n" medium="image"/><media:thumbnail url="{X}/t.jpg"/>'
            f'<enclosure url="{X}/m.png" type="image/png"/>'
        )
    ),
    "categories": rss(
        item(
            f'<title>K</title><link>{X}/k</link><category domain="{X}/tax">Roads</category>'
            "<category>Roads</category><category></category><category>Bins &amp; recycling</category>"
            '<category domain="d"/><category>Parks</category>'
        )
    ),
    "hubs_and_self": rss(
        item(f"<title>L</title><link>{X}/l</link>"),
        channel=f"<title>T</title><link>{X}/</link>"
        '<atom:link rel="self" href="/feeds/news.xml" type="application/rss+xml"/>'
        '<atom:link rel="hub" href="https://hub.example/"/><atom:link rel="HUB" href="/h2"/>',
    ),
    "titles": rss(
        item(f"<title>Fish &amp; chips &amp;amp; peas</title><link>{X}/1</link>")
        + item(f"<title>&lt;b&gt;Bold&lt;/b&gt; news</title><link>{X}/2</link>")
        + item(f"<title>  Caf\u00e9 \u20ac5 \u2014 \U0001f600  </title><link>{X}/3</link>")
        + item(f"<title>&lt;3 &amp;copy; A&amp;B</title><link>{X}/4</link>")
        + item("<title></title><description>No title</description>"),
        channel=f"<title>Lowshire &amp;amp; &lt;i&gt;friends&lt;/i&gt;</title><link>{X}/</link>",
    ),
    "html_bodies": rss(
        item(
            f'<title>M</title><link>{X}/m</link><description><![CDATA[<p>One <a href="{X}/a?b=c">link</a>'
            "<br />two&#8230; &nbsp;three &amp; four & five</p><ul><li>x</li></ul><h2>Head</h2>"
            "]]></description>"
        )
        + item(f"<title>N</title><link>{X}/n</link><description>   plain text, no markup   </description>")
    ),
    "dates": rss(
        item(f"<title>O</title><link>{X}/o</link><pubDate>Mon, 02 Jun 2025 10:00:00 +0100</pubDate>")
        + item(f"<title>P</title><link>{X}/p</link><pubDate>Tue, 3 Jun 2025 08:15:00 GMT</pubDate>")
        + item(f"<title>Q</title><link>{X}/q</link><pubDate>2025-06-04T12:00:00Z</pubDate>")
        + item(f"<title>R</title><link>{X}/r</link><pubDate>not a date</pubDate>")
    ),
    "channel_extras_and_comments": rss(
        item(f"<title>S</title><link>{X}/s</link><comments>/s#comments</comments>"),
        channel=f"<title>T</title><link>{X}/</link><description>About &lt;b&gt;us&lt;/b&gt;</description>"
        "<language>en-gb</language><lastBuildDate>Mon, 02 Jun 2025 10:00:00 GMT</lastBuildDate>"
        "<generator>CMS</generator><ttl>60</ttl><!-- a comment between elements -->",
    ),
    "comments_between_elements": rss(item(f"<!-- generated --><title>U</title><!-- x --><link>{X}/u</link>")),
    "no_items": rss(""),
}

#: RSS 2.0 documents only feedparser reads exactly: the fast path must send them on.
DECLINED = {
    "script_in_description": rss(item("<description>&lt;script&gt;x()&lt;/script&gt;</description>")),
    "attribute_on_tag": rss(item('<description>&lt;p class="x"&gt;a&lt;/p&gt;</description>')),
    "relative_href": rss(item('<description>&lt;a href="/a"&gt;a&lt;/a&gt;</description>')),
    "javascript_href": rss(item('<description>&lt;a href="javascript:x()"&gt;a&lt;/a&gt;</description>')),
    "html_br": rss(item("<title>a</title><description>a&lt;br&gt;b</description>")),
    "cp1252_charref": rss(item("<title>a</title><description>a &amp;#150; b</description>")),
    "apos_charref": rss(item("<title>a</title><description>it&amp;#39;s</description>")),
    "author_with_email": rss(item("<title>a</title><author>press@x.example (Press)</author>")),
    "mojibake": rss(item("<title>Caf\u00c3\u00a9</title>")),
    "c1_control": rss(item("<title>a\u0096b</title>")),
    "xml_base": rss(item('<title>a</title><link xml:base="https://y.example/">b</link>')),
    "doctype": b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY c "&#169;">]><rss version="2.0"><channel>'
    b"<title>&c;</title></channel></rss>",
    "image": rss("", channel=f"<title>T</title><image><url>{X}/i.png</url><title>I</title></image>"),
    "source": rss(item('<title>a</title><source url="https://y.example/">Y</source>')),
    "media_group": rss(item(f'<title>a</title><media:group><media:content url="{X}/a.png"/></media:group>')),
    "two_titles": rss(item("<title>a</title><title>b</title>")),
    "alternate_atom_link": rss("", channel=f'<title>T</title><atom:link href="{X}/"/>'),
    "title_with_type": rss(item('<title type="html">a</title>')),
    "comment_inside_text": rss(item("<title>a<!-- hidden -->b</title>")),
    "processing_instruction": rss(item("<title>a</title><?cms x?>")),
    "nested_markup": rss(item("<title>a</title><description><p>raw</p></description>")),
    "rss_091": b'<?xml version="1.0"?><rss version="0.91"><channel><title>T</title></channel></rss>',
    "not_well_formed_for_lxml": rss(item("<title>Fish & chips</title>")),
}


def _load_bench_corpus():
    spec = importlib.util.spec_from_file_location("bench_corpus", ROOT / "bench" / "corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@functools.cache
def _corpus_feeds(count: int) -> dict[str, bytes]:
    corpus = _load_bench_corpus()
    rng, now = random.Random(5), datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    return {f"corpus_{index:04d}": corpus.feed_document(index, 20, rng, now) for index in range(count)}


def _fixture_cases() -> list[tuple[str, bytes, str, str]]:
    cases = []
    for path in sorted(FIXTURES.glob("*.xml")):
        stem = path.name.split(".")[0]
        expected_path = FIXTURES / f"{stem}.expected.json"
        expected = json.loads(expected_path.read_text()) if expected_path.exists() else {}
        url = expected.get("url", "https://www.lowshire.gov.uk/feed")
        cases.append((path.name, path.read_bytes(), url, expected.get("content_type", "application/xml")))
    return cases


def _parse_case_bodies() -> dict[str, bytes]:
    """The documents of test_parse.py / test_parse_golden.py that live in the test code."""

    def simple(items: str) -> bytes:
        return f"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>
    <link>https://x.example/</link>{items}</channel></rss>""".encode()

    return {
        "alias_1": simple("<item><guid>a-1</guid><link>https://x.example/a</link></item>"),
        "shared_link": simple(
            "<item><guid>e1</guid><title>Fair</title><link>https://x.example/events</link></item>"
            "<item><guid>e2</guid><title>Show</title><link>https://x.example/events</link></item>"
        ),
        "duplicate_guids": simple(
            "<item><guid>same</guid><link>https://x.example/a</link></item>"
            "<item><guid>same</guid><link>https://x.example/b</link></item>"
        ),
        "relative": simple("<item><title>A</title><link>/news/a</link></item>"),
        "recoverable": b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
    <item><title>Fish & chips</title><link>https://x.example/a</link></item></channel></rss>""",
        "windows_1252": (
            '<?xml version="1.0" encoding="windows-1252"?><rss version="2.0"><channel><title>T</title>'
            "<item><title>Caf\xe9 opens \x96 \x93soon\x94</title>"
            "<link>https://x.example/c</link></item></channel></rss>"
        ).encode("latin-1"),
        "harmless_entities": b"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/never-fetched.dtd" [<!ENTITY copy "&#169;"><!ENTITY org "Lowshire">]>
<rss version="2.0"><channel><title>&org; &copy;</title>
<item><title>&org; news</title><link>https://x.example/a</link></item></channel></rss>""",
    }


CASES: list[tuple[str, bytes, str, str]] = [
    *_fixture_cases(),
    *((name, body, URL, "application/rss+xml") for name, body in _parse_case_bodies().items()),
    *((name, body, URL, "application/rss+xml; charset=utf-8") for name, body in _corpus_feeds(8).items()),
    *((name, body, URL, "application/rss+xml") for name, body in {**CLAIMED, **DECLINED}.items()),
]


def _both(body: bytes, url: str, content_type: str) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    """(parse_feed's result, feedparser's result); a FeedError as its kind and reason."""
    results: list[ParsedFeed | str] = []
    for fast in (True, False):
        try:
            results.append(
                _parse(body, url=url, feed_id="feed-f", headers={"Content-Type": content_type}, fast=fast)
            )
        except FeedError as error:
            results.append(f"{error.kind}: {error.reason}")
    return results[0], results[1]


@pytest.mark.parametrize(("name", "body", "url", "content_type"), CASES, ids=[case[0] for case in CASES])
def test_fast_path_equals_feedparser(name: str, body: bytes, url: str, content_type: str):
    fast, slow = _both(body, url, content_type)
    if isinstance(fast, ParsedFeed) and isinstance(slow, ParsedFeed):
        assert slow.parser == "feedparser"
        assert dataclasses.replace(fast, parser="feedparser") == slow
    else:
        assert fast == slow  # the same FeedError (bombs, malformed documents)


def test_the_fast_path_claims_plain_rss20_and_only_that():
    claimed = {name for name, body, url, ctype in CASES if _parser_of(body, url, ctype) == "fastparse"}
    assert set(CLAIMED) | set(_corpus_feeds(8)) <= claimed
    assert not claimed & set(DECLINED)
    fixtures_to_feedparser = {
        "rss091.xml",
        "rss10.xml",
        "atom.xml",
        "atom03.xml",
        "xml_base.xml",
        "scripts.xml",
    }
    assert not claimed & fixtures_to_feedparser
    assert {"seq_reordered.poll1.xml", "utf16.xml", "cp1252_undeclared.xml"} <= claimed
    encodings = {"ebcdic_cp500", "ebcdic_cp037", "shift_jis", "euc_jp", "gb18030", "koi8_r"}
    encodings |= {"utf16_be_bom", "utf16_le_nobom", "utf32_le_bom", "utf32_be_nobom"}
    assert {f"{name}.xml" for name in encodings} <= claimed  # so each is compared with feedparser


def _parser_of(body: bytes, url: str, content_type: str) -> str:
    try:
        return parse_feed(body, url=url, feed_id="feed-f", headers={"Content-Type": content_type}).parser
    except FeedError:
        return "error"


def test_claimed_feeds_really_exercise_each_field():
    """The equality above is only worth something if the claimed feeds carry the values."""
    images = parse_feed(CLAIMED["images"], url=URL, feed_id="f").entries[0].image_urls
    assert images == (
        "https://www.lowshire.gov.uk/img/j.JPG",
        "https://x.example/m.png",
        "https://x.example/n",
        "https://x.example/t.jpg",
    )
    hubs = parse_feed(CLAIMED["hubs_and_self"], url=URL, feed_id="f")
    assert hubs.hubs == ("https://hub.example/", "https://www.lowshire.gov.uk/h2")
    assert hubs.self_url == URL
    tags = parse_feed(CLAIMED["categories"], url=URL, feed_id="f").entries[0].tags
    assert tags == ("Roads", "Bins & recycling", "Parks")
    dates = [e.published for e in parse_feed(CLAIMED["dates"], url=URL, feed_id="f").entries]
    assert dates[0] == datetime(2025, 6, 2, 9, 0, tzinfo=UTC) and dates[3] is None
    authors = [e.author for e in parse_feed(CLAIMED["authors"], url=URL, feed_id="f").entries]
    assert authors == ["Lowshire Press Office", "Jo Bloggs", None]
    relative = parse_feed(CLAIMED["relative_link_and_guid"], url=URL, feed_id="f").entries[0]
    assert relative.link == "https://www.lowshire.gov.uk/news/a?x=1&y=2"


INERT = [
    "plain text",
    "<p>One <strong>two</strong> &amp; three.</p>",
    '<p><a href="https://x.example/a?b=c">x</a><br />y&#8230; &nbsp;z & w</p><ul><li>i</li></ul>',
    "<h2>Head</h2><blockquote><em>q</em></blockquote><div><span>s</span></div><pre><code>c</code></pre>",
    "&lt;script&gt;not a tag&lt;/script&gt; &quot;q&quot; &gt;",
    "<p>unclosed <b>bold",
]


@pytest.mark.parametrize("markup", INERT)
def test_inert_html_is_what_feedparser_hands_on_unchanged(markup: str):
    """The premise of `_inert_html`: feedparser's URI resolver and sanitiser leave it as it is."""
    assert _inert_html(markup, URL) == markup
    resolved = resolve_relative_uris(markup, URL, "utf-8", "text/html")
    assert _sanitize_html(resolved, "utf-8", "text/html") == markup


@pytest.mark.parametrize(
    "markup",
    [
        "<br>",
        '<p class="a">x</p>',
        '<a href="/x">x</a>',
        "<script>x</script>",
        "&#150;",
        "&#39;",
        "&copy;",
        "a\r\nb",
    ],
)
def test_html_feedparser_would_rewrite_is_not_inert(markup: str):
    with pytest.raises(_Decline):
        _inert_html(markup, URL)


@pytest.mark.parametrize("name", ["billion_laughs.xml", "quadratic.xml", "xxe.xml"])
def test_entity_attacks_in_plain_rss20_are_refused_before_any_parser(name: str):
    bomb = (FIXTURES / name).read_bytes()
    assert b'<rss version="2.0">' in bomb  # the shape the fast path would otherwise claim
    with pytest.raises(FeedError) as caught:
        parse_feed(bomb, url=URL, feed_id="f")
    assert caught.value.kind == "unsafe_xml"


#: Dates as feeds write them, well and badly: RFC 822 and its variants, W3C-DTF, and values
#: starting with a letter that RFC 822 cannot read (each handler's turn must come as in feedparser).
DATES = [
    "Tue, 01 Dec 2026 10:15:00 +0000", "Tue, 01 Dec 2026 10:15:00 GMT", "Tue, 1 Dec 2026 10:15 EST",
    "Thu, 31 Dec 2026 23:59:59 -0800", "Wed, 02 Dec 26 07:00:00 +0100", "01 Dec 2026 10:15:00 +0000",
    "Tuesday, 01-Dec-26 10:15:00 UTC", "Tue, 32 Dec 2026 10:15:00 +0000", "Tue, 01 Foo 2026 10:15:00",
    "Sun, 29 Feb 2026 12:00:00 +0000", "Mon, 29 Feb 2028 12:00:00 +0000", "Tue 01 Dec 2026",
    "2026-12-01T10:15:00Z", "2026-12-01T10:15:00+01:00", "2026-12-01", "2026-12", "20261201T101500Z",
    "T2026-12-01", "tomorrow", "Today 10:15", "Tue", "t", "Z", "Dec 1 2026", "December 1, 2026",
    "Sat Dec  5 10:15:00 2026", "Tue, 01 Dec 2026 10:15:00 +99999", "Έ, 01 Dec 2026 10:15:00 +0000",
    "", " ", " Tue, 01 Dec 2026 10:15:00 +0000", "1 Dec 2026", "Tue, 01 Dec 10000 10:15:00 +0000",
]  # fmt: skip


@pytest.mark.parametrize("value", DATES)
def test_pub_dates_read_as_feedparser_reads_them(value: str):
    assert _pub_date(value) == _parse_date(value)
