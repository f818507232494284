"""Feed bytes → plain, validated entries with stable ids (the "parse" step). No I/O.

Formats: RSS 0.9x/1.0/2.0 and Atom 0.3/1.0 through feedparser; JSON Feed 1.0/1.1 through
`jsonfeed` (pydantic). Both end as the same `ParsedEntry`, with Herald's identity rules. Plain
RSS 2.0 — most council feeds — is read by `fastparse` (lxml; ~4.5× faster end to end) when it
gives exactly feedparser's result; other documents go to feedparser. `ParsedFeed.parser` says
which one ran.

Before feedparser sees a document: `textenc.to_utf8` settles its real encoding (mis-declared
charsets are common) and re-encodes it as UTF-8, and `xmlguard.check_xml` refuses entity bombs and
external entities. feedparser resolves relative links against xml:base and the document's base
(`urls.document_base`: Content-Location, else the feed URL) and sanitises HTML;
`sanitize.clean_html` then applies one policy to every format's HTML.

Thread-safe: no module state is written, so the app may run `parse_feed` in a worker thread
(`asyncio.to_thread`) to keep feedparser's CPU time off the event loop.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser

from services.feed_ingest.errors import FeedError
from services.feed_ingest.fastparse import read_rss20
from services.feed_ingest.identity import (
    content_hash,
    html_to_text,
    item_id_from_content,
    item_id_from_guid,
    item_id_from_link,
    normalise_link,
    normalise_text,
    plain_text,
    trusted_guids,
)
from services.feed_ingest.jsonfeed import JsonFeed, JsonItem, looks_like_json, parse_json_feed
from services.feed_ingest.sanitize import clean_html, text_as_html
from services.feed_ingest.textenc import to_utf8
from services.feed_ingest.urls import document_base, join_url
from services.feed_ingest.xmlguard import check_xml
from shared.events import FeedItemDiscovered

#: Long bodies are cut: events stay small, and consumers link to the page for the rest.
MAX_SUMMARY_CHARS = 4000
MAX_TITLE_CHARS = 500

_LINK_HEADER = re.compile(r"""<([^>]*)>\s*((?:;\s*[^;,]+)*)""")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedEntry:
    """One item of one fetch, as Herald describes it. Text fields are plain text (no markup)."""

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
    #: The item's body as sanitised HTML (full content when the feed has it, else the summary);
    #: relative URLs made absolute. Not part of `content_hash` (ids and hashes stay as they were).
    content_html: str = ""

    def to_event(self, *, feed_id: str, feed_url: str, discovered_at: datetime) -> FeedItemDiscovered:
        extra: dict[str, Any] = {}
        if "content_html" in FeedItemDiscovered.model_fields:  # once the contract carries it
            extra["content_html"] = self.content_html
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
            **extra,
        )


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    site_link: str | None
    #: feedparser's format name (rss20, rss10, rss091u, atom10, atom03, …) or json10/json11.
    version: str
    entries: tuple[ParsedEntry, ...]
    #: Problems with a feed still read: feedparser's complaint, mis-declared encodings, items skipped.
    warnings: tuple[str, ...] = field(default=())
    #: WebSub hubs, from the document and the HTTP Link header (issue 5 §5).
    hubs: tuple[str, ...] = field(default=())
    #: The feed's own URL as it states it (rel="self" / JSON Feed feed_url), for WebSub topics.
    self_url: str | None = None
    #: The character encoding the document was found to be in (utf-8, cp1252, …).
    encoding: str = "utf-8"
    #: Which reader produced it: "fastparse" (plain RSS 2.0), "feedparser" (the fallback) or "json".
    parser: str = "feedparser"


def parse_feed(
    body: bytes, *, url: str, feed_id: str, headers: Mapping[str, str] | None = None
) -> ParsedFeed:
    """Parse one fetched document; raise `FeedError` ("malformed", "unsafe_xml") if it cannot be read."""
    return _parse(body, url=url, feed_id=feed_id, headers=headers, fast=True)


def _parse(
    body: bytes, *, url: str, feed_id: str, headers: Mapping[str, str] | None, fast: bool
) -> ParsedFeed:
    """`parse_feed`; `fast=False` sends every XML document to feedparser (to compare the two)."""
    response_headers = {key.lower(): value for key, value in (headers or {}).items()}
    header_hubs, header_self = _link_header(response_headers.get("link", ""), url)
    base = document_base(url, response_headers.get("content-location"))
    if looks_like_json(body, response_headers.get("content-type")):
        feed = _parse_json(body, url=url, base=base, feed_id=feed_id)
        hubs = tuple(dict.fromkeys((*feed.hubs, *header_hubs)))
        return ParsedFeed(
            feed.title,
            feed.site_link,
            feed.version,
            feed.entries,
            feed.warnings,
            hubs,
            feed.self_url or header_self,
            parser="json",
        )
    decoded = to_utf8(body, response_headers.get("content-type"))
    check_xml(decoded.body)  # before any XML parser sees the bytes
    media = (response_headers.get("content-type") or "application/xml").split(";", 1)[0].strip()
    media = media or "application/xml"
    parsed = read_rss20(decoded.body, url=base, media_type=media) if fast else None
    parser, problem = "fastparse", None
    if parsed is None:
        parser = "feedparser"
        response_headers["content-type"] = f"{media}; charset=utf-8"
        response_headers["content-location"] = base  # feedparser's base for relative links
        parsed = _feedparser(decoded.body, response_headers)
        problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed["entries"] and (problem is not None or not parsed.get("version")):
        detail = f": {problem}" if problem is not None else ""
        raise FeedError("malformed", f"not a readable RSS/Atom feed{detail}")
    feed_info = parsed.get("feed", {})
    site_link = _absolute(feed_info.get("link"), base)
    drafts = [_draft(entry, base) for entry in parsed["entries"]]
    doc_hubs, doc_self = [], None
    for link in feed_info.get("links") or ():
        rel, href = link.get("rel"), _absolute(link.get("href"), base)
        if href and rel == "hub":
            doc_hubs.append(href)
        elif href and rel == "self" and doc_self is None:
            doc_self = href
    warnings = [*decoded.warnings]
    if problem is not None:
        warnings.append(f"{type(problem).__name__}: {problem}")
    return ParsedFeed(
        title=_text(feed_info.get("title_detail"), feed_info.get("title")),
        site_link=site_link,
        version=parsed.get("version") or "",
        entries=_identify(drafts, url=url, site_link=site_link, feed_id=feed_id),
        warnings=tuple(warnings),
        hubs=tuple(dict.fromkeys((*doc_hubs, *header_hubs))),
        self_url=doc_self or header_self,
        encoding=decoded.encoding,
        parser=parser,
    )


def _feedparser(body: bytes, response_headers: dict[str, str]) -> Any:
    """feedparser's result for the UTF-8 `body`. Under a media type that is neither XML nor text,
    feedparser first decodes with whatever encoding name its pattern finds on the first line, and
    lets a ValueError (a NUL in the name) or a bare UnicodeError through: that is the document's
    fault, so a `FeedError`."""
    try:
        # A BytesIO, never bare bytes: feedparser would fetch bytes that look like a URL.
        return feedparser.parse(io.BytesIO(body), response_headers=response_headers)
    except (ValueError, UnicodeError) as exc:
        raise FeedError("malformed", f"not a readable RSS/Atom feed: {type(exc).__name__}: {exc}") from None


def _identify(
    drafts: list[dict[str, Any]], *, url: str, site_link: str | None, feed_id: str
) -> tuple[ParsedEntry, ...]:
    trust = trusted_guids([draft["guid"] for draft in drafts], feed_url=url, site_link=site_link)
    link_counts: dict[str, int] = {}
    for draft in drafts:
        if draft["link_key"]:
            link_counts[draft["link_key"]] = link_counts.get(draft["link_key"], 0) + 1
    return tuple(
        _entry(draft, position, trusted, feed_id, unique_link=link_counts.get(draft["link_key"], 0) == 1)
        for position, (draft, trusted) in enumerate(zip(drafts, trust, strict=True))
    )


def _draft(entry: Any, feed_url: str) -> dict[str, Any]:
    link, link_key = _absolute_and_key(entry.get("link"), feed_url)
    summary_html = entry.get("summary")
    summary_detail = entry.get("summary_detail")
    if not summary_html and entry.get("content"):
        summary_detail = entry["content"][0]
        summary_html = summary_detail.get("value")
    summary = _cut(_text(summary_detail, summary_html), MAX_SUMMARY_CHARS)
    title = _cut(_text(entry.get("title_detail"), entry.get("title")), MAX_TITLE_CHARS)
    body_detail, body = summary_detail, summary_html
    for content in entry.get("content") or ():  # the full body, when there is one
        if content.get("value"):
            body_detail, body = content, content.get("value")
            break
    base = (body_detail or {}).get("base") or link or feed_url
    return {
        "guid": entry.get("id"),
        "link": link,
        "link_key": link_key,
        "title": title,
        "summary": summary,
        "content_html": _html(body_detail, body, base),
        "author": _author(entry),
        "tags": _tags(entry),
        "image_urls": _images(entry, feed_url),
        # dict.get: FeedParserDict.get("updated_parsed") falls back to the published date
        "published": _utc(dict.get(entry, "published_parsed")),
        "updated": _utc(dict.get(entry, "updated_parsed")),
    }


def _parse_json(body: bytes, *, url: str, base: str, feed_id: str) -> ParsedFeed:
    feed, items, warnings = parse_json_feed(body)
    site_link = _absolute(feed.home_page_url, base)
    drafts = [_json_draft(item, feed, base) for item in items]
    if feed.items and not drafts:
        raise FeedError("malformed", f"no readable items in the JSON Feed ({warnings[0]})")
    return ParsedFeed(
        title=_cut(html_to_text(feed.title), MAX_TITLE_CHARS),
        site_link=site_link,
        version=_json_version(feed),
        entries=_identify(drafts, url=url, site_link=site_link, feed_id=feed_id),
        warnings=tuple(warnings),
        hubs=tuple(hub for hub in (_absolute(h.url, base) for h in feed.hubs) if hub),
        self_url=_absolute(feed.feed_url, base),
    )


def _json_version(feed: JsonFeed) -> str:
    return "json11" if feed.version.endswith("/1.1") else "json10"


def _json_draft(item: JsonItem, feed: JsonFeed, feed_url: str) -> dict[str, Any]:
    link = _absolute(item.url, feed_url) or _absolute(item.external_url, feed_url)
    title = _cut(html_to_text(item.title or ""), MAX_TITLE_CHARS)
    if item.summary:
        summary = html_to_text(item.summary)
    elif item.content_text:
        summary = normalise_text(item.content_text)
    else:
        summary = html_to_text(item.content_html or "")
    if item.content_html:
        content_html = clean_html(item.content_html, base_url=link or feed_url)
    else:
        content_html = text_as_html(item.content_text or item.summary or "")
    authors = [*item.authors, *([item.author] if item.author else []), *feed.authors]
    if feed.author:
        authors.append(feed.author)
    author = next((html_to_text(a.name) for a in authors if a.name and html_to_text(a.name)), None)
    tags: list[str] = []
    for tag in item.tags:
        text = html_to_text(str(tag))
        if text and text not in tags:
            tags.append(text)
    candidates = [item.image, item.banner_image]
    candidates += [a.url for a in item.attachments if a.mime_type.lower().startswith("image/")]
    images: list[str] = []
    for candidate in candidates:
        absolute = _absolute(candidate, feed_url)
        if absolute and absolute not in images:
            images.append(absolute)
    return {
        "guid": item.id,
        "link": link,
        "link_key": normalise_link(link) if link else None,
        "title": title,
        "summary": _cut(summary, MAX_SUMMARY_CHARS),
        "content_html": content_html,
        "author": author,
        "tags": tuple(tags),
        "image_urls": tuple(images),
        "published": item.date_published,
        "updated": item.date_modified,
    }


def _html(detail: Any, value: Any, base: str) -> str:
    """Sanitised HTML of a feed text construct (plain text is escaped)."""
    if not value:
        return ""
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, Mapping) else "text/html"
    return text_as_html(str(value)) if kind == "text/plain" else clean_html(str(value), base_url=base)


def _link_header(value: str, base: str) -> tuple[list[str], str | None]:
    """(hub URLs, self URL) from an HTTP Link header (RFC 8288), as WebSub publishers send them."""
    hubs: list[str] = []
    self_url = None
    for match in _LINK_HEADER.finditer(value or ""):
        rels = set()
        for rel in _REL.finditer(match.group(2)):
            rels.update((rel.group(1) or rel.group(2) or "").lower().split())
        href = _absolute(match.group(1), base)
        if href and "hub" in rels:
            hubs.append(href)
        if href and "self" in rels and self_url is None:
            self_url = href
    return hubs, self_url


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
        content_html=draft["content_html"],
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
    """Plain text of a feed text construct: HTML has its markup removed; plain text is kept as is.
    `fastparse` hands over the text of HTML it has already taken apart ("text" in the detail)."""
    if not value:
        return ""
    if isinstance(detail, Mapping) and "text" in detail:
        return detail["text"]
    kind = (detail or {}).get("type", "text/html") if isinstance(detail, Mapping) else "text/html"
    return plain_text(str(value)) if kind == "text/plain" else html_to_text(str(value))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _absolute(link: Any, base: str) -> str | None:
    return _absolute_and_key(link, base)[0]


def _absolute_and_key(link: Any, base: str) -> tuple[str | None, str | None]:
    """(absolute http(s) URL, its `normalise_link` key), or (None, None): also for a link that
    `urljoin` cannot parse (an unclosed IPv6 bracket: "http://[")."""
    if not link or not isinstance(link, str):
        return None, None
    try:
        absolute = join_url(base, link.strip())
    except ValueError:
        return None, None
    key = normalise_link(absolute)
    return (absolute, key) if key is not None else (None, None)


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
