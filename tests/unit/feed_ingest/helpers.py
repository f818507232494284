"""Plain-data builders for feed_ingest unit tests."""

from __future__ import annotations

from datetime import UTC, datetime

from services.feed_ingest.identity import content_hash, item_id_from_link
from services.feed_ingest.parse import ParsedEntry


def entry(
    key: str,
    *,
    position: int = 0,
    published: datetime | None = None,
    aliases: tuple[str, ...] = (),
    title: str | None = None,
) -> ParsedEntry:
    """An entry whose identity is `key` (plus `aliases`), as parse_feed would make it."""
    link = f"https://www.lowshire.example/news/{key}"
    title = title or f"Item {key}"
    return ParsedEntry(
        item_id=key,
        identity_keys=(key, *aliases),
        title=title,
        link=link,
        summary="",
        author=None,
        tags=(),
        image_urls=(),
        published=published,
        updated=None,
        content_hash=content_hash(title, link, ""),
        position=position,
    )


def day(n: int) -> datetime:
    return datetime(2025, 6, n, 12, 0, tzinfo=UTC)


__all__ = ["day", "entry", "item_id_from_link"]
