"""Routes, templates, hashtags and UTM parameters, and per-channel rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.publisher.lengths import bluesky_length, mastodon_length, rules_for
from services.publisher.render import RenderError, render_route
from services.publisher.routing import RouteConfig, default_routes, hashtags_from, routes_for, with_utm
from services.publisher.text import ELLIPSIS, weighted_length
from shared.events import FeedItemDiscovered, FeedItemUpdated

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def item(title: str = "Roadworks on the A38", **overrides: object) -> FeedItemDiscovered:
    values: dict[str, object] = {
        "item_id": "item-1",
        "feed_id": "feed-travel",
        "feed_url": "https://www.example.gov.uk/travel/news.rss",
        "title": title,
        "link": "https://www.example.gov.uk/travel/1",
        "summary": "",
        "content_hash": "abc",
        "discovered_at": NOW,
    }
    values.update(overrides)
    return FeedItemDiscovered(**values)  # type: ignore[arg-type]


ROUTES = [
    RouteConfig(
        name="travel", feeds=["https://www.example.gov.uk/travel/*"], to=["x:corporate"], urgent=True
    ),
    RouteConfig(
        name="all", feeds=["*"], to=["x:corporate", "mastodon:corporate"], template="{title}: {link}"
    ),
    RouteConfig(name="libraries", feeds=["feed-libraries"], to=["bluesky:libraries"], corrections=True),
]


def test_first_route_naming_a_target_wins_it() -> None:
    routes = routes_for(item(), ROUTES)
    assert [(r.target, r.config.name) for r in routes] == [
        ("x:corporate", "travel"),
        ("mastodon:corporate", "all"),
    ]
    assert routes[0].urgent and not routes[1].urgent


def test_feed_ids_match_too() -> None:
    routes = routes_for(item(feed_id="feed-libraries", feed_url="https://lib.example.gov.uk/f"), ROUTES)
    assert {r.target for r in routes} == {"x:corporate", "mastodon:corporate", "bluesky:libraries"}


def test_updates_only_go_where_corrections_are_asked_for() -> None:
    updated = FeedItemUpdated(
        **item(feed_id="feed-libraries").model_dump(exclude={"discovered_at"}),
        previous_content_hash="old",
        changed_fields=["title"],
        detected_at=NOW,
    )
    assert [r.target for r in routes_for(updated, ROUTES)] == ["bluesky:libraries"]


def test_default_route_is_title_and_link_to_the_default_account() -> None:
    [route] = routes_for(item(), default_routes("x:corporate"))
    assert route.target == "x:corporate"
    assert render_route(item(), route) == "Roadworks on the A38 https://www.example.gov.uk/travel/1"


def test_template_prefix_suffix_hashtags_and_utm() -> None:
    config = RouteConfig(
        to=["x:corporate"],
        prefix="TRAVEL: ",
        template="{title} {link} {hashtags}",
        suffix=" (via Herald)",
        hashtags=True,
        utm={"utm_source": "x", "utm_medium": "social"},
    )
    [route] = routes_for(item(tags=["road works", "A38", "2026"]), [config])
    text = render_route(item(tags=["road works", "A38", "2026"]), route)
    assert text == (
        "TRAVEL: Roadworks on the A38 https://www.example.gov.uk/travel/1?utm_source=x&utm_medium=social"
        " #RoadWorks #A38 (via Herald)"
    )


def test_empty_placeholders_leave_no_double_spaces() -> None:
    config = RouteConfig(to=["x:a"], template="{title} {summary} {link}")
    assert (
        render_route(item(summary=""), config, "x")
        == "Roadworks on the A38 https://www.example.gov.uk/travel/1"
    )


def test_unknown_placeholder_and_bad_target_are_refused() -> None:
    with pytest.raises(ValidationError):
        RouteConfig(to=["x:a"], template="{title} {body}")
    with pytest.raises(ValidationError):
        RouteConfig(to=["x"])


def test_utm_keeps_existing_parameters() -> None:
    assert with_utm("https://e.gov.uk/a?utm_source=rss&id=3", {"utm_source": "x", "utm_campaign": "c"}) == (
        "https://e.gov.uk/a?utm_source=rss&id=3&utm_campaign=c"
    )


def test_hashtags_from_tags() -> None:
    assert hashtags_from(["bin collections", "Bin Collections", "2026", "café"], 5) == [
        "#BinCollections",
        "#Café",
    ]


def test_summary_gives_way_first_then_hashtags_then_title() -> None:
    config = RouteConfig(to=["x:a"], template="{title}\n{summary}\n{link} {hashtags}", hashtags=True)
    long_summary = "The council will resurface the road. " * 20
    text = render_route(item(summary=long_summary, tags=["roads"]), config, "x")
    assert weighted_length(text) <= 280
    assert text.startswith("Roadworks on the A38\nThe council will")
    assert ELLIPSIS + "\nhttps://www.example.gov.uk/travel/1 #Roads" in text
    long_title = "Roadworks " * 60
    text = render_route(item(title=long_title, summary="x " * 10, tags=["roads"]), config, "x")
    assert weighted_length(text) <= 280 and text.endswith("https://www.example.gov.uk/travel/1")
    assert "#Roads" not in text and ELLIPSIS in text


@pytest.mark.parametrize(
    ("kind", "limit", "length"), [("mastodon", 500, mastodon_length), ("bluesky", 300, bluesky_length)]
)
def test_truncation_per_channel(kind: str, limit: int, length) -> None:  # type: ignore[no-untyped-def]
    title = "Council meeting agenda " * 40
    text = render_route(item(title=title), RouteConfig(to=[f"{kind}:a"]), kind)
    assert length(text) <= limit and text.endswith(ELLIPSIS + " https://www.example.gov.uk/travel/1")
    assert length(text) > limit - 30  # used the room it has


def test_mastodon_counts_links_as_23_and_graphemes_once() -> None:
    link = "https://www.example.gov.uk/" + "a" * 100
    assert mastodon_length(f"hi {link}") == 3 + 23
    assert mastodon_length("👨‍👩‍👧") == 1
    assert bluesky_length(f"hi {link}") == 3 + len(link)


def test_truncation_never_splits_a_grapheme() -> None:
    family = "👨‍👩‍👧"
    text = render_route(item(title=family * 400, link=None), RouteConfig(to=["bluesky:a"]), "bluesky")
    body = text.removesuffix(ELLIPSIS)
    assert body == family * (len(body) // len(family)) and rules_for("bluesky").fits(text)


def test_nothing_to_post_is_an_error() -> None:
    with pytest.raises(RenderError):
        render_route(item(title=" ", link=None), None, "x")
