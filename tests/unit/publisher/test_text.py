"""X's weighted length against twitter-text's own conformance vectors, and truncation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from services.publisher.text import ELLIPSIS, extract_urls, graphemes, measure, truncate, weighted_length

CONFORMANCE = Path(__file__).resolve().parents[2] / "fixtures" / "conformance" / "twitter-text-validate.yml"
V3_GROUPS = ("WeightedTweetsWithDiscountedEmojiCounterTest", "UnicodeDirectionalMarkerCounterTest")


def _v3_cases() -> list:
    tests = yaml.safe_load(CONFORMANCE.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(case, id=f"{group}: {case['description']}")
        for group in V3_GROUPS
        for case in tests[group]
    ]


@pytest.mark.parametrize("case", _v3_cases())
def test_v3_conformance(case: dict) -> None:
    result = measure(case["text"])
    assert result.weighted_length == case["expected"]["weightedLength"]
    assert result.valid == case["expected"]["valid"]


def test_conformance_file_has_the_v3_groups() -> None:
    tests = yaml.safe_load(CONFORMANCE.read_text(encoding="utf-8"))["tests"]
    assert sum(len(tests[group]) for group in V3_GROUPS) >= 20


@pytest.mark.parametrize(
    ("text", "weight"),
    [
        ("a", 1),
        ("é", 1),  # NFC: e + combining acute is one code point
        ("\u4e2d", 2),
        ("\u2026", 2),  # the ellipsis is outside the light ranges
        ("\U0001f1ec\U0001f1e7", 2),  # a flag
        ("Read https://www.example.gov.uk/news/a-very-long-path-indeed?x=1", 5 + 23),
        ("see council.gov.uk now", 4 + 23 + 4),  # a bare domain is a link too
        ("not.a.domainzzz", 15),  # unknown TLD: plain text
        ("http://127.0.0.1:8000/item", 26),  # an IP is not a link for X: counted as text
    ],
)
def test_weights(text: str, weight: int) -> None:
    assert weighted_length(text) == weight


def test_tco_links_stop_at_the_slug() -> None:
    assert extract_urls("https://t.co/abc123/more") == [(0, len("https://t.co/abc123"))]


def test_text_that_fits_is_unchanged() -> None:
    assert truncate("Short title", " https://example.com/a") == "Short title https://example.com/a"


def test_truncates_at_a_word_boundary_with_ellipsis_and_keeps_the_link() -> None:
    link = " https://example.com/" + "p" * 300
    title = " ".join(["word"] * 100)  # 499 characters
    text = truncate(title, link)
    assert text is not None
    assert text.endswith(ELLIPSIS + link)
    head = text[: -len(ELLIPSIS + link)]
    assert head == " ".join(["word"] * (len(head.split(" "))))  # whole words only
    assert weighted_length(text) <= 280
    assert weighted_length(head + " word" + ELLIPSIS + link) > 280  # and as many as fit


def test_title_without_spaces_is_cut_between_graphemes() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    title = family * 200
    text = truncate(title, " https://example.com")
    assert text is not None and weighted_length(text) <= 280
    head = text.split(ELLIPSIS)[0]
    assert graphemes(head) == [family] * len(graphemes(head))  # no family split apart
    assert len(graphemes(head)) == (280 - 23 - 1 - 2) // 2


def test_nothing_fits_returns_none() -> None:
    assert truncate("title", " " + "\u4e2d" * 200) is None
