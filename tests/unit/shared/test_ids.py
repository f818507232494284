"""Ids are stable: the same feed or person gets the same id however its URL or name is written."""

from __future__ import annotations

import pytest

from shared.ids import feed_id_for, normalise_url


def test_feed_id_is_the_same_for_equivalent_urls() -> None:
    assert feed_id_for("HTTPS://www.Devon.gov.uk:443/news/feed#top") == feed_id_for(
        "https://www.devon.gov.uk/news/feed"
    )
    assert feed_id_for("https://www.devon.gov.uk/news/feed") != feed_id_for(
        "https://www.devon.gov.uk/events/feed"
    )
    assert normalise_url("http://example.org") == "http://example.org/"


@pytest.mark.parametrize(
    "url",
    ["https://www.devon.gov.uk/a/../news feed", "https://bücher.example/feed", "HTTP://Example.org:80/x?a=1"],
)
def test_feed_id_agrees_with_the_url_as_the_event_carries_it(url: str) -> None:
    from datetime import UTC, datetime

    from shared.events import FeedSubscribed

    event = FeedSubscribed(feed_id="x", url=url, interval_seconds=60, subscribed_at=datetime.now(UTC))
    assert feed_id_for(url) == feed_id_for(str(event.url))
