"""Item identity rules (issue 3; docs/architecture.md "Identity"): stable, normalised, compact."""

from __future__ import annotations

import random
import re

import pytest

from services.feed_ingest.identity import (
    _normalise_any_link,
    content_hash,
    html_to_text,
    item_id_from_content,
    item_id_from_guid,
    item_id_from_link,
    normalise_link,
    normalise_text,
    trusted_guids,
)

ID_PATTERN = re.compile(r"^item-[0-9a-f]{32}$")


def test_ids_are_compact_hashes():
    for item_id in (
        item_id_from_guid("lowshire-news-1042", "feed-a"),
        item_id_from_link("https://www.lowshire.gov.uk/news/a38"),
        item_id_from_content("Title", "Summary", "feed-a"),
    ):
        assert ID_PATTERN.match(item_id), item_id


def test_normalise_link_ignores_scheme_case_default_port_and_fragment():
    expected = normalise_link("https://www.lowshire.gov.uk/news/a38?page=2")
    for variant in (
        "http://www.lowshire.gov.uk/news/a38?page=2",
        "HTTPS://WWW.Lowshire.GOV.uk:443/news/a38?page=2#comments",
        "  https://www.lowshire.gov.uk/news/a38?page=2  ",
    ):
        assert normalise_link(variant) == expected
    assert (
        normalise_link("https://www.lowshire.gov.uk/News/A38?page=2") != expected
    )  # paths are case-sensitive
    assert normalise_link("mailto:press@lowshire.gov.uk") is None
    assert normalise_link("/news/a38") is None


def test_link_ids_survive_an_http_to_https_switch():
    assert item_id_from_link("http://www.lowshire.gov.uk/a") == item_id_from_link(
        "https://www.lowshire.gov.uk/a"
    )


def test_opaque_guids_are_scoped_by_feed_global_ones_are_not():
    assert item_id_from_guid("1042", "feed-a") != item_id_from_guid("1042", "feed-b")
    assert item_id_from_guid(" 1042\n", "feed-a") == item_id_from_guid("1042", "feed-a")
    tag = "tag:lowshire.gov.uk,2025:planning/24-0131"
    assert item_id_from_guid(tag, "feed-a") == item_id_from_guid(tag, "feed-b")
    url = "https://www.lowshire.gov.uk/news/library-hours"
    assert item_id_from_guid(url, "feed-a") == item_id_from_link(url) == item_id_from_guid(url, "feed-b")


def test_content_ids_ignore_whitespace_and_case_but_not_words():
    base = item_id_from_content("Bins  collected\non Tuesday", "Because of the holiday.", "feed-a")
    assert base == item_id_from_content("bins collected on tuesday", " because of the holiday. ", "feed-a")
    assert base != item_id_from_content("Bins collected on Wednesday", "Because of the holiday.", "feed-a")


def test_untrusted_guids():
    trust = trusted_guids(
        [
            "1",  # fine
            "",  # empty
            None,  # missing
            "dup",  # shared by two entries
            "dup",
            "https://www.lowshire.gov.uk/news",  # the site's home page
            "http://www.lowshire.gov.uk/news.rss",  # the feed itself
            "https://www.lowshire.gov.uk/news/one-story",  # a permalink: fine
        ],
        feed_url="https://www.lowshire.gov.uk/news.rss",
        site_link="https://www.lowshire.gov.uk/news",
    )
    assert trust == [True, False, False, False, False, False, False, True]


def test_html_to_text_removes_markup_and_scripts():
    markup = (
        '<p>The A38 is <strong>closed</strong>&nbsp;&amp; <a href="x">diverted</a>.</p>'
        "<script>alert(1)</script>"
    )
    assert html_to_text(markup) == "The A38 is closed & diverted."  # nbsp becomes a space
    assert html_to_text("<style>p{}</style>Plain") == "Plain"
    assert html_to_text("Fish &amp;lt;chips&amp;gt;") == "Fish &lt;chips&gt;"  # decoded once, not twice
    assert html_to_text("a<br>b") == "a b"


def test_content_hash_tracks_edits_not_whitespace():
    first = content_hash("Road closed", "https://x.example/a", "Until Friday.")
    assert first == content_hash(" Road  closed ", "https://x.example/a", "Until\nFriday.")
    assert first != content_hash("Road closed", "https://x.example/a", "Until Saturday.")
    assert first != content_hash("Road reopened", "https://x.example/a", "Until Friday.")
    assert len(first) == 64


@pytest.mark.parametrize(
    ("heads", "alphabet"),
    [
        (["http://", "https://", "HTTP://", "http:///", "ftp://", ""], "aZ09.-_~:@[]?#;% \té"),
        (["http://", "https://"], "aB.-:90/?#;%&=_~"),  # mostly plain: the fast path's ground
    ],
)
def test_normalise_link_agrees_with_urlsplit_on_random_links(heads: list[str], alphabet: str) -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        link = rng.choice(heads) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 22)))
        assert normalise_link(link) == _normalise_any_link(link), link


def test_normalise_text_collapses_exactly_what_a_regex_whitespace_class_would() -> None:
    """`normalise_text` uses `str.split()` for speed; ids hashed from normalised text must stay
    what they were with `re.sub(r"\\s+", " ", …).strip()`, so both must agree on every character."""
    regex = re.compile(r"\s+")
    spaces = [chr(code) for code in range(0x110000) if chr(code).isspace() or regex.fullmatch(chr(code))]
    assert all(c.isspace() and regex.fullmatch(c) for c in spaces)
    for c in spaces:
        text = f"{c}Road  works{c}{c}on the A38{c}"
        assert normalise_text(text) == regex.sub(" ", text).strip() == "Road works on the A38"
