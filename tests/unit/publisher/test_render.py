"""Item → post text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.publisher.render import RenderError, render_post
from services.publisher.text import ELLIPSIS, weighted_length
from shared.events import FeedItemDiscovered


def item(title: str, link: str | None = "https://www.example.gov.uk/news/1") -> FeedItemDiscovered:
    return FeedItemDiscovered(
        item_id="item-1",
        feed_id="feed-1",
        feed_url="https://www.example.gov.uk/feed",
        title=title,
        link=link,
        content_hash="h",
        discovered_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_title_and_link() -> None:
    assert render_post(item("Bin collections  change\nover Easter")) == (
        "Bin collections change over Easter https://www.example.gov.uk/news/1"
    )


def test_long_title_is_shortened_and_the_link_kept_whole() -> None:
    text = render_post(item("Roadworks on the " + "very " * 80 + "long road"))
    assert text.endswith(ELLIPSIS + " https://www.example.gov.uk/news/1")
    assert weighted_length(text) <= 280


def test_no_link_means_title_only() -> None:
    assert render_post(item("Library opening hours", link=None)) == "Library opening hours"


def test_nothing_to_post_is_an_error() -> None:
    with pytest.raises(RenderError):
        render_post(item("   ", link=None))


def test_same_item_same_text() -> None:
    assert render_post(item("A" * 400)) == render_post(item("A" * 400))
