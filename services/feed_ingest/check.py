"""`herald feeds check URL`: fetch and parse one feed, no Kafka, and show what would be emitted.

For a check every item is shown (a subscription's first poll would announce none of them, or the
latest N with backfill); the events are the exact envelopes feed_ingest would publish.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.feed_ingest.errors import FeedError
from services.feed_ingest.fetch import FeedFetcher
from services.feed_ingest.parse import parse_feed
from services.feed_ingest.state import utcnow
from shared.envelope import CloudEvent, wrap
from shared.ids import feed_id_for
from shared.settings import HeraldSettings

SOURCE = "/herald/feed_ingest"


class FeedCheckResult(BaseModel):
    """The outcome of checking one feed URL."""

    url: str = Field(description="The URL as given.")
    feed_id: str = Field(description="The id a subscription to it would have.")
    status: Literal["ok", "error"]
    http_status: int | None = Field(default=None, description="Final HTTP status, when a response came.")
    error_kind: str | None = Field(
        default=None, description="Short code: bad_url, unsafe_address, http_error…"
    )
    error: str | None = Field(default=None, description="One line saying what went wrong.")
    final_url: str | None = Field(default=None, description="Where the feed was found, after redirects.")
    feed_title: str | None = None
    feed_version: str | None = Field(
        default=None, description="feedparser's format name, e.g. rss20, atom10."
    )
    item_count: int = 0
    warnings: list[str] = Field(
        default_factory=list, description="Parser complaints about a feed still read."
    )
    events: list[CloudEvent] = Field(
        default_factory=list, description="FeedItemDiscovered envelopes, feed order."
    )

    @property
    def ok(self) -> bool:
        return self.status == "ok"


async def check_feed(url: str, settings: HeraldSettings) -> FeedCheckResult:
    """Fetch and parse `url` once; never raises for a feed's problems (they are in the result)."""
    url = url.strip()
    feed_id = feed_id_for(url)
    fetcher = FeedFetcher(settings)
    try:
        fetched = await fetcher.fetch(url)
        parsed = parse_feed(fetched.body, url=fetched.url, feed_id=feed_id, headers=fetched.headers)
    except FeedError as exc:
        return FeedCheckResult(
            url=url,
            feed_id=feed_id,
            status="error",
            http_status=exc.http_status,
            error_kind=exc.kind,
            error=exc.reason,
        )
    finally:
        await fetcher.aclose()
    now = utcnow()
    events = [
        wrap(entry.to_event(feed_id=feed_id, feed_url=url, discovered_at=now), source=SOURCE, time=now)
        for entry in parsed.entries
    ]
    return FeedCheckResult(
        url=url,
        feed_id=feed_id,
        status="ok",
        http_status=fetched.http_status,
        final_url=fetched.url,
        feed_title=parsed.title or None,
        feed_version=parsed.version or None,
        item_count=len(parsed.entries),
        warnings=list(parsed.warnings),
        events=events,
    )
