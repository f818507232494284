"""Each channel's length rule (`lengths`, the one the renderer and `herald preview` use) and the pure
helpers the channels use: Mastodon counts links as 23 and graphemes; Bluesky 300 graphemes; X
delegates to twitter-text's weights; facets in bytes; rate-limit headers parsed."""

from __future__ import annotations

import time

import httpx

from services.publisher.channels import (
    BLUESKY_LIMITS,
    FACEBOOK_LIMITS,
    MASTODON_LIMITS,
    WEBHOOK_LIMITS,
    X_LIMITS,
)
from services.publisher.channels.base import same_link
from services.publisher.channels.bluesky import link_facets
from services.publisher.channels.facebook import rate_limit_from as facebook_limits
from services.publisher.channels.mastodon import rate_limit_from as mastodon_limits
from services.publisher.channels.x import rate_limit_from as x_limits
from services.publisher.lengths import rules_for

LONG_LINK = "https://www.example.gov.uk/news/" + "a" * 100


MASTODON = rules_for("mastodon")
BLUESKY = rules_for("bluesky")
X = rules_for("x")


def test_mastodon_counts_links_as_23_and_graphemes() -> None:
    assert MASTODON.length(f"Hi {LONG_LINK}") == 3 + 23
    assert MASTODON.length("👩‍👩‍👧 é") == 3  # one family, a space, an e with its accent
    assert MASTODON.length("see www.example.gov.uk") == len("see www.example.gov.uk")  # no scheme: text
    assert MASTODON.length("x" * 477 + " " + LONG_LINK) == 501


def test_mastodon_limit_edge() -> None:
    assert MASTODON.fits("x" * 476 + " " + LONG_LINK)
    assert not MASTODON.fits("x" * 477 + " " + LONG_LINK)


def test_bluesky_counts_graphemes_links_in_full() -> None:
    assert BLUESKY.length("👍🏽 ok") == 4
    assert BLUESKY.length(LONG_LINK) == len(LONG_LINK)
    assert BLUESKY.fits("é" * 300) and not BLUESKY.fits("é" * 301)


def test_x_uses_weighted_length() -> None:
    assert X.length(f"Hi {LONG_LINK}") == 3 + 23
    assert X.length("日本") == 4
    assert X.fits("a" * 280) and not X.fits("a" * 281)


def test_channel_limits_take_their_length_from_the_length_rules() -> None:
    for kind, limits in (
        ("x", X_LIMITS),
        ("mastodon", MASTODON_LIMITS),
        ("bluesky", BLUESKY_LIMITS),
        ("facebook", FACEBOOK_LIMITS),
        ("webhook", WEBHOOK_LIMITS),
    ):
        assert limits.max_length == rules_for(kind).limit, kind


def test_link_facets_are_byte_ranges() -> None:
    text = "Ffordd ar gau — Môn 🚧 https://www.example.gov.uk/roads?id=1 and http://b.example.org/x"
    facets = link_facets(text)
    encoded = text.encode()
    uris = [facet.features[0].uri for facet in facets]
    assert uris == ["https://www.example.gov.uk/roads?id=1", "http://b.example.org/x"]
    for facet, uri in zip(facets, uris, strict=True):
        assert encoded[facet.index.byte_start : facet.index.byte_end].decode() == uri
    assert facets[0].index.byte_start == len("Ffordd ar gau — Môn 🚧 ".encode())


def test_rate_limit_headers() -> None:
    x = x_limits(
        {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "7", "x-rate-limit-reset": "1700000000"}
    )
    assert (x.limit, x.remaining, x.reset_at) == (100, 7, 1700000000.0)
    assert x_limits({}) is None
    masto = mastodon_limits(
        httpx.Headers(
            {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": "2023-11-14T22:13:20.000Z",
            }
        )
    )
    assert (masto.remaining, masto.reset_at) == (0, 1700000000.0)
    fb = facebook_limits(
        httpx.Headers({"X-Page-Usage": '{"call_count": 95, "estimated_time_to_regain_access": 2}'})
    )
    assert fb.remaining == 5 and 110 < fb.reset_at - time.time() <= 120


def test_links_compare_as_services_echo_them() -> None:
    assert same_link("HTTPS://WWW.Example.gov.uk/a/", "https://www.example.gov.uk/a")
    assert not same_link("https://www.example.gov.uk/A", "https://www.example.gov.uk/a")
