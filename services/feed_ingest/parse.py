"""Feed bytes → plain, validated entries with stable ids (the "parse" step). No I/O.

feedparser reads RSS 0.9x/1.0/2.0 and Atom, detects the encoding from the bytes and the HTTP
`Content-Type`, resolves relative links against xml:base and the feed URL, and sanitises HTML;
this module turns its loosely-typed result into `ParsedEntry` values with Herald's identity rules.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from services.feed_ingest.errors import FeedError
from services.feed_ingest.identity import (
    content_hash,
    html_to_text,
    item_id_from_content,
    item_id_from_guid,
    item_id_from_link,
    normalise_link,
    normalise_text,
    trusted_guids,
)
from shared.events import FeedItemDiscovered

#: Long bodies are cut: events stay small, and consumers link to the page for the rest.
MAX_SUMMARY_CHARS = 4000
MAX_TITLE_CHARS = 500


@dataclass(frozen=True)
class ParsedEntry:
    """One item of one fetch, as Herald describes it."""

    item_id: str
    #: Every key that names this item in seen-state: the id, and the link's id when the link is
    #: unique in the fetch (so a feed whose guids change on every poll still repeats nothing).
    identity_keys: tuple[str, ...]
    title: str
    link: str | None
    summary: str
    author: str | None
    tags: tuple[str, ...]
    image_urls: tuple[str, ...]
    published: datetime | None
    updated: datetime | None
    content_hash: str
    position: int  # index in the feed document; feeds usually list newest first

    def to_event(self, *, feed_id: str, feed_url: str, discovered_at: datetime) -> FeedItemDiscovered:
        return FeedItemDiscovered(
            item_id=self.item_id,
            feed_id=feed_id,
            feed_url=feed_url,
            title=self.title,
            link=self.link,
            summary=self.summary,
            author=self.author,
            tags=list(self.tags),
            image_urls=list(self.image_urls),
            published=self.published,
            updated=self.updated,
            content_hash=self.content_hash,
            discovered_at=discovered_at,
        )


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    site_link: str | None
    version: str
    entries: tuple[ParsedEntry, ...]
    #: feedparser's complaint when it still found entries (e.g. a stray `&`), else None.
    warnings: tuple[str, ...] = field(default=())


def parse_feed(
    body: bytes, *, url: str, feed_id: str, headers: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse one fetched document; raise `FeedError("malformed")` if it is not a readable feed."""
    response_headers = {key.lower(): value for key, value in (headers or {}).items()}
    response_headers.setdefault("content-location", url)  # base for relative links
    # A BytesIO, never bare bytes: feedparser would treat bytes that look like a URL as one to fetch.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.entries and (problem is not None or not parsed.get("version")):
        detail = f": {problem}" if problem is not None else ""
        raise FeedError("malformed", f"not a readable RSS/Atom feed{detail}")
    feed_info = parsed.get("feed", {})
    site_link = _absolute(feed_info.get("link"), url)
    trust = trusted_guids([entry.get("id") for entry in parsed.entries], feed_url=url, site_link=site_link)
    drafts = [_draft(entry, url) for entry in parsed.entries]
    link_counts: dict[str, int] = {}
    for draft in drafts:
        if draft["link_key"]:
            link_counts[draft["link_key"]] = link_counts.get(draft["link_key"], 0) + 1
    entries = tuple(
        _entry(draft, position, trusted, feed_id, unique_link=link_counts.get(draft["link_key"], 0) == 1)
        for position, (draft, trusted) in enumerate(zip(drafts, trust, strict=True))
    )
    return ParsedFeed(
        title=_text(feed_info.get("title_detail"), feed_info.get("title")),
        site_link=site_link,
        version=parsed.get("version") or "",
        entries=entries,
        warnings=(f"{type(problem).__name__}: {problem}",) if problem is not None else (),
    )


def _draft(entry: Any, feed_url: str) -> dict[str, Any]:
    link = _absolute(entry.get("link"), feed_url)
    summary_html = entry.get("summary")
    summary_detail = entry.get("summary_detail")
    if not summary_html and entry.get("content"):
        summary_detail = entry["content"][0]
        summary_html = summary_detail.get("value")
    summary = _cut(_text(summary_detail, summary_html), MAX_SUMMARY_CHARS)
    title = _cut(_text(entry.get("title_detail"), entry.get("title")), MAX_TITLE_CHARS)
    return {
        "guid": entry.get("id"),
        "link": link,
        "link_key": normalise_link(link) if link else None,
        "title": title,
        "summary": summary,
        "author": _author(entry),
        "tags": _tags(entry),
        "image_urls": _images(entry, feed_url),
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date
        "published": _utc(dict.get(entry, "published_parsed")),
        "updated": _utc(dict.get(entry, "updated_parsed")),
    }


def _entry(
    draft: dict[str, Any], position: int, trusted_guid: bool, feed_id: str, *, unique_link: bool
) -> ParsedEntry:
    link, title, summary = draft["link"], draft["title"], draft["summary"]
    link_id = item_id_from_link(link) if draft["link_key"] else None
    if trusted_guid:
        item_id = item_id_from_guid(draft["guid"], feed_id)
    elif link_id is not None:
        item_id = link_id
    else:
        item_id = item_id_from_content(title, summary, feed_id)
    keys = [item_id]
    if link_id is not None and unique_link and link_id != item_id:
        keys.append(link_id)
    return ParsedEntry(
        item_id=item_id,
        identity_keys=tuple(keys),
        title=title,
        link=link,
        summary=summary,
        author=draft["author"],
        tags=draft["tags"],
        image_urls=draft["image_urls"],
        published=draft["published"],
        updated=draft["updated"],
        content_hash=content_hash(title, link, summary),
        position=position,
    )


def _text(detail: Any, value: Any) -> str:
    """Plain text of a feed text construct: HTML has its markup removed; plain text is kept as is."""
    if not value:
        return ""
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, Mapping) else "text/html"
    return normalise_text(str(value)) if kind == "text/plain" else html_to_text(str(value))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _absolute(link: Any, base: str) -> str | None:
    if not link or not isinstance(link, str):
        return None
    absolute = urljoin(base, link.strip())
    return absolute if normalise_link(absolute) is not None else None


def _author(entry: Any) -> str | None:
    detail = entry.get("author_detail") or {}
    name = detail.get("name") or entry.get("author")
    return normalise_text(html_to_text(name)) or None if name else None


def _tags(entry: Any) -> tuple[str, ...]:
    tags: list[str] = []
    for tag in entry.get("tags") or ():
        text = html_to_text(tag.get("label") or tag.get("term") or "")
        if text and text not in tags:
            tags.append(text)
    return tuple(tags)


def _images(entry: Any, feed_url: str) -> tuple[str, ...]:
    candidates: list[str | None] = []
    for enclosure in entry.get("enclosures") or ():
        if str(enclosure.get("type", "")).startswith("image/"):
            candidates.append(enclosure.get("href"))
    for media in entry.get("media_content") or ():
        if media.get("medium") == "image" or str(media.get("type", "")).startswith("image/"):
            candidates.append(media.get("url"))
    for thumbnail in entry.get("media_thumbnail") or ():
        candidates.append(thumbnail.get("url"))
    images: list[str] = []
    for candidate in candidates:
        absolute = _absolute(candidate, feed_url)
        if absolute and absolute not in images:
            images.append(absolute)
    return tuple(images)


def _utc(value: Any) -> datetime | None:
    """feedparser's `*_parsed` values are UTC `struct_time`s (it converts the feed's offset)."""
    if not value:
        return None
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (TypeError, ValueError):
        return None
