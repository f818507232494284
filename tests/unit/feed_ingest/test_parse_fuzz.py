"""Any bytes, any declared charset: `parse_feed` gives a feed or a `FeedError`, never another exception.

`parse_feed` is what the worker's poll and `herald feeds check` both call, so an exception other
than `FeedError` out of it is a stack trace for a user and a crashed poll. Hypothesis feeds it
random bytes, the golden fixtures truncated and mutated, wrong byte-order marks, mixed encodings,
and every codec name Python knows in the XML declaration and in Content-Type, and hostile URLs in
every field that holds one. 5,500 examples in all (the `budget`s below, ~20 s here); a feed that
parses must also become events that serialise.
"""

from __future__ import annotations

import codecs
import encodings
import encodings.aliases
import json
import pkgutil
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.feed_ingest.errors import FeedError
from services.feed_ingest.parse import ParsedFeed, parse_feed

#: An exception swallowed on the way (nh3 ignores one raised in its attribute filter, after
#: printing it) counts too.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"
DOCUMENTS = sorted(path.read_bytes() for path in FIXTURES.iterdir() if path.suffix in (".xml", ".json"))
URL = "https://www.lowshire.gov.uk/feeds/news.rss"
#: Every codec name and alias Python knows, text encodings or not (rot13, base64, undefined, …).
CODECS = sorted(
    set(encodings.aliases.aliases)
    | set(encodings.aliases.aliases.values())
    | {module.name for module in pkgutil.iter_modules(encodings.__path__)} - {"aliases"}
)
BOMS = [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE]
MEDIA_TYPES = ["application/rss+xml", "application/xml", "text/xml", "text/html", "application/json", ""]
#: Feed text in scripts that exercise the codecs (Latin, Greek, Cyrillic, CJK, astral, controls).
TEXT = st.text(
    alphabet=st.sampled_from("aZ09 <>&;\"'éß€–Ωжお知市区𠀀🌳\x00\x81\x8d\x9d\ufeff\ud800"), max_size=40
)


def budget(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def _codec_names() -> st.SearchStrategy[str]:
    return st.sampled_from(CODECS)


def _content_type(charset: str | None) -> st.SearchStrategy[str]:
    media = st.sampled_from(MEDIA_TYPES)
    if charset is None:
        return media
    return media.map(lambda m: f"{m}; charset={charset}")


CONTENT_TYPES = st.one_of(st.none(), _codec_names()).flatmap(_content_type)


def _encode(text: str, codec: str) -> bytes:
    """`text` in `codec` as a careless server would write it; UTF-8 if it is no text encoding."""
    try:
        return text.encode(codec, "replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return text.encode("utf-8", "surrogatepass")


def _rss(declared: str | None, title: str, item_title: str) -> str:
    prolog = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    return (
        f'{prolog}<rss version="2.0"><channel><title>{title}</title><link>/</link>'
        f"<item><title>{item_title}</title><link>/news/a</link></item></channel></rss>"
    )


def _mutate(data: st.DataObject, body: bytes) -> bytes:
    for _ in range(data.draw(st.integers(0, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["truncate", "replace", "insert", "delete", "bom", "splice"]))
        at = data.draw(st.integers(0, len(body)), label="at")
        if kind == "truncate":
            body = body[:at]
        elif kind == "replace":
            body = body[:at] + data.draw(st.binary(min_size=1, max_size=8)) + body[at + 1 :]
        elif kind == "insert":
            body = body[:at] + data.draw(st.binary(min_size=1, max_size=8)) + body[at:]
        elif kind == "delete":
            body = body[:at] + body[at + data.draw(st.integers(1, 16)) :]
        elif kind == "bom":
            body = data.draw(st.sampled_from(BOMS)) + body
        else:  # splice in a piece of another fixture, likely in another encoding
            other = data.draw(st.sampled_from(DOCUMENTS))
            start = data.draw(st.integers(0, len(other)))
            body = body[:at] + other[start : start + data.draw(st.integers(1, 200))] + body[at:]
    return body


def assert_feed_or_feed_error(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
    """The property: a ParsedFeed whose items become serialisable events, or a FeedError."""
    try:
        feed = parse_feed(
            body, url=URL, feed_id="feed-fuzz", headers={"Content-Type": content_type, **(headers or {})}
        )
    except FeedError as error:
        assert error.kind in ("malformed", "unsafe_xml") and error.reason
        return
    assert isinstance(feed, ParsedFeed)
    now = datetime(2025, 1, 1, tzinfo=UTC)
    for entry in feed.entries:
        entry.to_event(feed_id="feed-fuzz", feed_url=URL, discovered_at=now).model_dump_json()
    for text in (feed.title, *feed.warnings):
        text.encode("utf-8")  # no lone surrogates anywhere a feed's text goes


@budget(1200)
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_random_bytes(body: bytes, content_type: str):
    assert_feed_or_feed_error(body, content_type)


@budget(1500)
@given(data=st.data(), content_type=CONTENT_TYPES)
def test_mutated_fixtures(data: st.DataObject, content_type: str):
    body = _mutate(data, data.draw(st.sampled_from(DOCUMENTS), label="fixture"))
    assert_feed_or_feed_error(body, content_type)


@budget(1500)
@given(
    declared=st.one_of(st.none(), _codec_names()),
    written_in=st.lists(_codec_names(), min_size=1, max_size=3),
    header=st.one_of(st.none(), _codec_names()),
    title=TEXT,
    item_title=TEXT,
    bom=st.one_of(st.none(), st.sampled_from(BOMS)),
)
def test_every_codec_declared_and_written(
    declared: str | None,
    written_in: list[str],
    header: str | None,
    title: str,
    item_title: str,
    bom: bytes | None,
):
    """Declared in one codec (prolog and/or header), written in one or several others."""
    text = _rss(declared, title, item_title)
    cut = len(text) // len(written_in)
    pieces = [text[i * cut : (i + 1) * cut] for i in range(len(written_in) - 1)] + [
        text[(len(written_in) - 1) * cut :]
    ]
    body = (bom or b"") + b"".join(
        _encode(piece, codec) for piece, codec in zip(pieces, written_in, strict=True)
    )
    assert_feed_or_feed_error(body, f"application/rss+xml; charset={header}" if header else "text/xml")


@budget(500)
@given(codec=_codec_names(), title=TEXT)
def test_every_codec_honestly_declared(codec: str, title: str):
    """A document really in the codec it declares."""
    body = _encode(_rss(codec, title, title), codec)
    assert_feed_or_feed_error(body, "application/xml")


#: URL-ish text: a scheme (or none), an authority that urlsplit may refuse (IPv6 brackets, ports
#: out of range), then random path characters.
URLS = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["", "http://", "https://", "//", "/", "ftp://", "javascript:", "mailto:"]),
        st.sampled_from(["x.example", "[", "[::1", "[::1]", "]", "[x]", "h:99999", "h:-1", "h:p", "u@h", ""]),
        st.text(alphabet=st.sampled_from("/[]@?#%.:09ax-_~ \\é"), max_size=12),
    ),
)


@budget(800)
@given(urls=st.lists(URLS, min_size=6, max_size=6), location=st.one_of(st.none(), URLS))
def test_hostile_urls_in_every_url_field(urls: list[str], location: str | None):
    """Every field that holds a URL, in RSS and JSON Feed, and the Content-Location header."""
    link, guid, enclosure, media, thumbnail, href = (escape(url, quote=True) for url in urls)
    rss = (
        f'<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><title>T</title>'
        f"<link>{link}</link><item><title>a</title><link>{link}</link><guid>{guid}</guid>"
        f'<enclosure url="{enclosure}" type="image/png"/><media:content url="{media}" medium="image"/>'
        f'<media:thumbnail url="{thumbnail}"/><description>&lt;a href="{href}"&gt;x&lt;/a&gt;'
        f'&lt;img src="{href}"&gt;</description></item></channel></rss>'
    )
    json_feed = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "T",
            "home_page_url": urls[0],
            "feed_url": urls[1],
            "hubs": [{"type": "WebSub", "url": urls[2]}],
            "items": [
                {"id": "1", "url": urls[3], "image": urls[4], "content_html": f'<a href="{urls[5]}">x</a>'}
            ],
        }
    )
    headers = {"Link": f'<{urls[2]}>; rel="hub"', **({"Content-Location": location} if location else {})}
    for body in (rss.encode(), json_feed.encode()):
        assert_feed_or_feed_error(body, "application/rss+xml", headers)
