"""Golden feeds (tests/fixtures/feeds/<name>.expected.json beside the document it names): formats,
encodings, xml:base, JSON Feed, markup, XML bombs, and poll sequences that must repeat nothing."""

from __future__ import annotations

import json
import re
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.feed_ingest.decide import decide
from services.feed_ingest.errors import FeedError
from services.feed_ingest.parse import ParsedFeed, parse_feed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "feeds"


def _expected(kind: str) -> list[str]:
    names = []
    for path in sorted(FIXTURES.glob("*.expected.json")):
        data = json.loads(path.read_text())
        if kind in data:
            names.append(path.name.removesuffix(".expected.json"))
    return names


DOCUMENTS = _expected("items")
BOMBS = _expected("error_kind")
SEQUENCES = _expected("polls")


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.expected.json").read_text())


def parse_fixture(expected: dict[str, Any]) -> ParsedFeed:
    return parse_feed(
        (FIXTURES / expected["file"]).read_bytes(),
        url=expected.get("url", "https://www.lowshire.gov.uk/feed"),
        feed_id=expected.get("feed_id", "feed-golden"),
        headers={"Content-Type": expected["content_type"], **expected.get("headers", {})},
    )


def as_items(feed: ParsedFeed, expected: dict[str, Any]) -> list[dict[str, Any]]:
    """Each entry as the FeedItemDiscovered it becomes, plus identity keys and content_html."""
    got = []
    for parsed in feed.entries:
        event = parsed.to_event(
            feed_id=expected["feed_id"],
            feed_url=expected["url"],
            discovered_at=datetime(2025, 1, 1, tzinfo=UTC),
        )
        item = event.model_dump(mode="json", exclude={"discovered_at", "feed_id", "feed_url", "content_html"})
        item["identity_keys"] = list(parsed.identity_keys)
        item["content_html"] = parsed.content_html
        got.append(item)
    return got


def test_every_format_and_trap_has_a_golden_file():
    assert {"rss091", "rss10", "rss_guids", "atom03", "atom", "jsonfeed10", "jsonfeed11"} <= set(DOCUMENTS)
    assert {"xml_base", "cp1252_misdeclared", "cp1252_undeclared", "utf8_declared_latin1", "utf16"} <= set(
        DOCUMENTS
    )
    assert set(ENCODED) <= set(DOCUMENTS) and "content_location" in DOCUMENTS
    assert {"billion_laughs", "quadratic", "xxe", "parameter_entity"} <= set(BOMBS)
    assert len(SEQUENCES) >= 5


@pytest.mark.parametrize("name", DOCUMENTS)
def test_golden_documents(name: str):
    expected = load(name)
    feed = parse_fixture(expected)
    assert feed.title == expected["title"]
    assert feed.version == expected["version"]
    assert feed.encoding == expected["encoding"]
    assert list(feed.hubs) == expected["hubs"] and feed.self_url == expected["self_url"]
    assert list(feed.warnings) == expected["warnings"]
    assert as_items(feed, expected) == expected["items"]


@pytest.mark.parametrize("name", DOCUMENTS)
def test_no_markup_or_script_in_any_text_field(name: str):
    feed = parse_fixture(load(name))
    for entry in feed.entries:
        for text in (feed.title, entry.title, entry.summary, entry.author or "", *entry.tags):
            assert "<" not in text.replace("< ", "") and "alert(" not in text, text
        assert "<script" not in entry.content_html and "javascript:" not in entry.content_html
        assert not re.search(r"<[^>]*\son\w+\s*=", entry.content_html)  # no onclick=/onerror= handlers


def test_the_tricky_fixtures_really_are_tricky():
    """The golden answers above are only worth something if the inputs hold the traps."""
    scripts = (FIXTURES / "scripts.xml").read_text()
    assert "&amp;lt;img src=x onerror" in scripts and "<script>" in scripts and "javascript:" in scripts
    assert "charset=utf-8" in load("cp1252_misdeclared")["content_type"]
    (FIXTURES / "cp1252_misdeclared.xml").read_bytes().decode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        (FIXTURES / "cp1252_misdeclared.xml").read_bytes().decode("utf-8")
    assert 'encoding="ISO-8859-1"' in (FIXTURES / "utf8_declared_latin1.xml").read_text()


#: Fixtures in each encoding Herald must read, and the codec each is really written in.
ENCODED = {
    "ebcdic_cp500": "cp500",  # declared as csIBM500
    "ebcdic_cp037": "cp037",  # declared as ebcdic-cp-ca
    "shift_jis": "shift_jis",
    "euc_jp": "euc_jp",
    "gb18030": "gb18030",  # declared only in Content-Type
    "koi8_r": "koi8-r",
    "utf16_be_bom": "utf-16",
    "utf16_le_nobom": "utf-16-le",
    "utf32_le_bom": "utf-32",
    "utf32_be_nobom": "utf-32-be",
}


@pytest.mark.parametrize(("name", "codec"), ENCODED.items())
def test_each_encoding_reads_as_the_text_it_was_written_in(name: str, codec: str):
    """An oracle beside the golden files: every title is the document's own text in its codec."""
    raw = (FIXTURES / f"{name}.xml").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode(codec)
    feed = parse_fixture(load(name))
    assert feed.parser == "fastparse" and not feed.warnings
    titles = [feed.title, *(entry.title for entry in feed.entries)]
    assert all(f"<title>{title}</title>" in text for title in titles) and len(titles) >= 2
    assert any(not title.isascii() for title in titles)


def test_ebcdic_reads_the_code_page_the_prolog_names():
    """cp500 and cp037 differ in `[`, `]`, `!` and `|`: reading cp500 as the cp037 that Appendix F
    sniffs would get them wrong."""
    raw = (FIXTURES / "ebcdic_cp500.xml").read_bytes()
    assert raw.startswith(b"\x4c\x6f\xa7\x94") and b'encoding="csIBM500"' in raw.decode("cp500").encode()
    assert raw.decode("cp037") != raw.decode("cp500")
    summaries = [entry.summary for entry in parse_fixture(load("ebcdic_cp500")).entries]
    assert summaries == ["Café & Bäckerei öffnen [wieder]!", "Où? Près de l'église | ¬ ¢"]


def test_undeclared_shift_jis_is_read_with_a_warning_not_a_crash():
    raw = (FIXTURES / "shift_jis_undeclared.xml").read_bytes()
    assert b"encoding=" not in raw and "お知らせ" in raw.decode("shift_jis")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("cp1252")  # 0x81 (Shift-JIS punctuation) has no windows-1252 character
    feed = parse_fixture(load("shift_jis_undeclared"))
    assert feed.encoding == "iso8859-1" and len(feed.entries) == 1
    assert feed.warnings == (
        "no encoding declared and the bytes are neither UTF-8 nor windows-1252; read as latin-1, "
        "so the text may be garbled (the feed should declare its charset)",
    )


@pytest.mark.parametrize("name", BOMBS)
def test_xml_bombs_are_refused_quickly_with_bounded_memory(name: str):
    expected = load(name)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(FeedError) as caught:
            parse_fixture(expected)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == expected["error_kind"]
    assert "refused" in caught.value.reason
    assert elapsed < 1.0 and peak < 2 * 1024 * 1024, (elapsed, peak)


def test_harmless_entities_and_external_dtds_still_parse():
    body = b"""<?xml version="1.0"?>
<!DOCTYPE rss SYSTEM "http://127.0.0.1:9/never-fetched.dtd" [<!ENTITY copy "&#169;"><!ENTITY org "Lowshire">]>
<rss version="2.0"><channel><title>&org; &copy;</title>
<item><title>&org; news</title><link>https://x.example/a</link></item></channel></rss>"""
    feed = parse_feed(body, url="https://x.example/feed", feed_id="f")  # not refused
    assert "©" in feed.title and [e.link for e in feed.entries] == ["https://x.example/a"]


@pytest.mark.parametrize("name", SEQUENCES)
def test_poll_sequences_repeat_nothing(name: str):
    """Poll 1 announces everything (backfill), each later poll only what is really new."""
    expected = load(name)
    seen: list[str] = []
    for number, poll in enumerate(expected["polls"]):
        feed = parse_feed(
            (FIXTURES / poll["file"]).read_bytes(), url=expected["url"], feed_id=expected["feed_id"]
        )
        decision = decide(seen, feed.entries, baseline_done=number > 0, backfill=1000)
        assert sorted(e.title for e in decision.emit) == sorted(poll["emits"]), poll["file"]
        seen = decision.seen


def test_parse_feed_is_safe_in_worker_threads():
    names = DOCUMENTS * 4
    sequential = [as_items(parse_fixture(load(n)), load(n)) for n in names]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda n: as_items(parse_fixture(load(n)), load(n)), names))
    assert threaded == sequential
