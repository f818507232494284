"""A fast reader for plain RSS 2.0 that gives `parse.py` exactly what feedparser would (issue 5).

Why: with feedparser (expat + SAX callbacks + an sgmllib sanitiser per HTML field) `parse_feed`
managed ~120 bench-corpus feeds (20 items, 13 KB) a second per core, too few for issue 5's
benchmark; with this reader ~540 (lxml itself reads ~15,000: Herald's item model is now most of
the cost). When: only for documents where the result is sure to equal feedparser's, field for
field — `read_rss20` returns None for anything else and `parse.py` hands that document to
feedparser (`ParsedFeed.parser` says which one ran).

A document is taken only if all of these hold (each checked cheaply, no guessing):
- the guards ran first (`textenc.to_utf8`, `xmlguard.check_xml`); it has no DOCTYPE, is
  well-formed to lxml (entities never resolved, no network, no DTD) and the feed URL is absolute;
- root `<rss version="2.0">` without a namespace, one `<channel>`, and only elements listed in
  `_CHANNEL`/`_ITEM` (no xml:base, no `<image>`, no `<source>`, no nested markup in text fields);
- every HTML field is "inert": the tags, entities and links in `_INERT_HTML` that feedparser's
  URI resolver and sanitiser return unchanged, so the value feedparser hands on is the raw text;
- no text needs feedparser's mojibake repair or windows-1252 control-character mapping.

The output is the feedparser-shaped mapping (`entries`, `feed`, `version`) that `parse.py`
already turns into `ParsedEntry`s, so identity, text, sanitising and cut rules are shared code.
Pure and thread-safe: module state is read-only (lxml parsers are per call).
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from feedparser.datetimes import _date_handlers, _parse_date
from feedparser.datetimes.rfc822 import _parse_date_rfc822
from feedparser.datetimes.w3dtf import _parse_date_w3dtf
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin
from lxml import etree

# The same set as html_to_text's extractor: the text shortcut must split words where it does.
from services.feed_ingest.identity import _BLOCK_ELEMENTS as BLOCK_ELEMENTS
from services.feed_ingest.identity import plain_text
from services.feed_ingest.urls import is_plain_absolute

_CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_MEDIA = "{http://search.yahoo.com/mrss/}"
_ATOM = "{http://www.w3.org/2005/Atom}"

#: Channel children that may appear (those feedparser reads into fields Herald uses are handled).
_CHANNEL = {
    "title", "link", "description", "language", "copyright", "managingEditor", "webMaster",
    "pubDate", "lastBuildDate", "generator", "docs", "ttl", "item", _ATOM + "link",
}  # fmt: skip
#: Item children the fast path reads exactly as feedparser does; anything else → feedparser.
_ITEM = {
    "title", "link", "description", "guid", "pubDate", "category", "enclosure", "comments",
    "author", _DC + "creator", _CONTENT + "encoded", _MEDIA + "content", _MEDIA + "thumbnail",
}  # fmt: skip
_ONCE = {"title", "link", "description", "guid", "pubDate", "author", _DC + "creator", _CONTENT + "encoded"}
_XML_MEDIA_TYPES = {
    "application/xml", "text/xml", "application/rss+xml", "application/atom+xml", "application/rdf+xml",
}  # fmt: skip

_INLINE = "p|br|strong|em|b|i|u|ul|ol|li|h[1-6]|blockquote|span|div|code|pre|sub|sup|small"
#: HTML that feedparser's RelativeURIResolver and _HTMLSanitizer pass through byte for byte:
#: attribute-free tags (and `<br />`), links with an absolute http(s) href, plain text, a bare
#: `&` before a space, a few named entities and numeric references (checked in `_inert_html`).
_INERT_HTML = re.compile(
    rf"""(?:[^<&\r]++|&(?:amp|lt|gt|quot|nbsp);|&(?=\s)|&\#[0-9]{{1,6}};|<br\ />"""
    rf"""|</?(?:{_INLINE.replace("br|", "")})>|</a>|<a\ href="https?://[^"<>&\s]+">)*+"""
)
_TAG = re.compile(r"(<[^>]*>)")
_TAG_NAME = re.compile(r"</?([a-z0-9]+)")
_HREF = re.compile(r'<a href="([^"]+)">')
_CHARREF = re.compile(r"&#([0-9]+);")


def read_rss20(body: bytes, *, url: str, media_type: str) -> dict[str, Any] | None:
    """feedparser's result fields (`version`, `feed`, `entries`) for a plain RSS 2.0 document,
    or None when this document must go to feedparser. `body` is the guarded UTF-8 document."""
    if media_type not in _XML_MEDIA_TYPES or b"<!DOCTYPE" in body or b"xml:base" in body:
        return None
    if _urljoin(url, url) != url or not url.startswith(("http://", "https://")):
        return None
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        return None
    if root.tag != "rss" or root.get("version") != "2.0" or len(root) != 1 or root[0].tag != "channel":
        return None
    try:
        return _channel(root[0], url)
    except _Decline:
        return None


class _Decline(Exception):
    """The document holds something only feedparser reads exactly."""


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_pis=False
    )


def _channel(channel: Any, url: str) -> dict[str, Any]:
    feed: dict[str, Any] = {"links": []}
    entries: list[dict[str, Any]] = []
    _check_children(channel, _CHANNEL, {"title", "link"})
    for child in channel:
        tag = child.tag
        if tag == "item":
            entries.append(_item(child, url))
        elif tag == "title":
            feed["title"], feed["title_detail"] = _title(child, url)
        elif tag == "link":
            link = _text(child, url, relative=True)
            feed["link"] = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link)
            feed["links"].append({"rel": "alternate", "type": "text/html", "href": feed["link"]})
        elif tag == _ATOM + "link":
            feed["links"].append(_atom_link(child, url))
    return {"version": "rss20", "feed": feed, "entries": entries}


def _item(item: Any, url: str) -> dict[str, Any]:
    _check_children(item, _ITEM, _ONCE)
    entry: dict[str, Any] = {"tags": [], "enclosures": [], "media_content": [], "media_thumbnail": []}
    joined: dict[str, str] = {}  # link and guid are usually the same URL: resolve it once
    for child in item:
        tag = child.tag
        if tag == "title":
            entry["title"], entry["title_detail"] = _title(child, url)
        elif tag == "link":
            link = _text(child, url, relative=True, joined=joined)
            if "&" in link:
                link = re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", link.replace("&amp;", "&"))
            entry["link"] = link
        elif tag == "guid":
            guid_is_link = _attributes(child, {"isPermaLink"}).get("isPermaLink", "true") == "true"
            entry["id"] = _text(child, url, relative=guid_is_link, joined=joined)
            if guid_is_link:
                entry.setdefault("link", entry["id"])
        elif tag == "description":
            entry["summary_detail"] = _html(child, url)
            entry["summary"] = entry["summary_detail"]["value"]
        elif tag == _CONTENT + "encoded":
            entry["content"] = [_html(child, url)]
            entry.setdefault("summary", entry["content"][0]["value"])
        elif tag == "pubDate":
            entry["published_parsed"] = _pub_date(_text(child, url))
        elif tag == "category":
            _attributes(child, {"domain"})
            term = _text(child, url)
            if term:
                entry["tags"].append({"term": term, "label": None})
        elif tag in ("author", _DC + "creator"):
            entry["author"] = _author(child, url)
            entry["author_detail"] = {"name": entry["author"]} if entry["author"] else {}
        elif tag == "enclosure":
            entry["enclosures"].append(_enclosure(child))
        elif tag == _MEDIA + "content":
            entry["media_content"].append(_lowered(_empty(child)))
        elif tag == _MEDIA + "thumbnail":
            entry["media_thumbnail"].append(_lowered(_empty(child)))
        elif tag == "comments":
            _text(child, url)  # not used, but vetted like every text element
    return entry


def _pub_date(value: str) -> Any:
    """feedparser's `_parse_date`, with RFC 822 tried first for a value that starts with a letter
    ("Tue, 01 Dec 2026 …", as RSS dates do). feedparser tries W3C-DTF first, which needs a
    four-digit year before any letter and so finds nothing in such a value: same result, one
    failed parse less per item (checked against `_parse_date` in the tests)."""
    if value[:1].isalpha() and _date_handlers[:2] == _W3DTF_THEN_RFC822:
        try:
            parsed = _parse_date_rfc822(value)
        except (KeyError, OverflowError, ValueError, AttributeError):  # as `_parse_date` catches
            parsed = None
        if parsed and len(parsed) == 9:
            return parsed
    return _parse_date(value)


_W3DTF_THEN_RFC822 = [_parse_date_w3dtf, _parse_date_rfc822]  # feedparser's own order


def _check_children(parent: Any, allowed: set[str], once: set[str]) -> None:
    if parent.attrib or (parent.text or "").strip():
        raise _Decline
    seen: set[str] = set()
    for child in parent:
        tag = child.tag
        if (child.tail or "").strip():
            raise _Decline
        if tag is etree.Comment:
            continue  # feedparser skips comments between elements too
        if not isinstance(tag, str) or tag not in allowed or (tag in once and tag in seen):
            raise _Decline  # processing instructions, unknown or repeated elements
        seen.add(tag)


def _attributes(element: Any, allowed: set[str]) -> dict[str, str]:
    if any(name not in allowed for name in element.attrib):
        raise _Decline
    return dict(element.attrib)


def _text(element: Any, base: str, *, relative: bool = False, joined: dict[str, str] | None = None) -> str:
    """A text element's value as feedparser pops it: stripped, resolved if it is a URI."""
    if len(element):
        raise _Decline  # nested elements, comments or PIs
    if element.attrib and element.tag not in ("guid", "category"):
        raise _Decline
    value = (element.text or "").strip()
    if not value.isascii() and (_repairable(value) or any("\x80" <= c <= "\x9f" for c in value)):
        raise _Decline  # feedparser would rewrite it (mojibake repair, windows-1252 mapping)
    if not relative or not value:
        return value
    if joined is None:
        return _join(base, value)
    if value not in joined:
        joined[value] = _join(base, value)
    return joined[value]


def _join(base: str, value: str) -> str:
    """feedparser's `_urljoin`, which gives a plain absolute http(s) URL back as it is."""
    return value if is_plain_absolute(value) else _urljoin(base, value)


def _repairable(value: str) -> bool:
    """feedparser re-decodes text that is latin-1-encodable and then valid UTF-8."""
    try:
        value.encode("iso-8859-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return True


def _title(element: Any, base: str) -> tuple[str, dict[str, str]]:
    value = _text(element, base)
    if _FeedParserMixin.looks_like_html(value):
        return _inert_html(value, base), {"type": "text/html", "base": base}
    return value, {"type": "text/plain", "base": base}


def _html(element: Any, base: str) -> dict[str, str]:
    """feedparser's detail of an HTML field, plus its plain text when that is cheap to get right."""
    value = _inert_html(_text(element, base), base)
    detail = {"type": "text/html", "base": base, "value": value}
    text = _inert_text(value)
    if "<" not in text:
        # `html_to_text` would stop after one pass (nothing tag-like is left), so this is its result.
        detail["text"] = plain_text(text)
    return detail


def _inert_text(markup: str) -> str:
    """What `identity.html_to_text`'s first pass reads from inert HTML: block tags are spaces,
    other tags vanish, entities are decoded (inert HTML holds no skipped elements)."""
    parts: list[str] = []
    for piece in _TAG.split(markup):
        if piece.startswith("<"):
            if _TAG_NAME.match(piece)[1] in BLOCK_ELEMENTS:  # type: ignore[index]
                parts.append(" ")
        elif piece:
            parts.append(unescape(piece))
    return "".join(parts)


def _inert_html(value: str, base: str) -> str:
    match = _INERT_HTML.fullmatch(value)
    if match is None:
        raise _Decline
    for number in _CHARREF.findall(value):
        code = int(number)
        if code in (34, 39) or 127 <= code < 160 or not 32 <= code < 0xD800:
            raise _Decline  # feedparser rewrites these references
    for href in _HREF.findall(value):
        if _join(base, href) != href:
            raise _Decline  # the resolver would rewrite this link
    return value


def _author(element: Any, base: str) -> str:
    value = _text(element, base)
    if "@" in value:
        raise _Decline  # feedparser splits "mail@example.org (Name)"
    return value


def _enclosure(element: Any) -> dict[str, str]:
    """As feedparser's `_enforce_href`: url, else uri, else href becomes `href`."""
    attributes = _lowered(_empty(element))
    href = attributes.get("url", attributes.get("uri", attributes.get("href")))
    if href:
        attributes.pop("url", None)
        attributes.pop("uri", None)
        attributes["href"] = href
    attributes["rel"] = "enclosure"
    return attributes


def _empty(element: Any) -> Any:
    if len(element) or (element.text or "").strip():
        raise _Decline
    return element


def _lowered(element: Any) -> dict[str, str]:
    """Attributes as feedparser keeps them: names lower-cased, `rel`/`type` values too."""
    attributes: dict[str, str] = {}
    for name, value in element.attrib.items():
        if not isinstance(name, str) or name.startswith("{"):
            raise _Decline
        key = name.lower()
        attributes[key] = value.lower() if key in ("rel", "type") else value
    return attributes


def _atom_link(element: Any, base: str) -> dict[str, str]:
    _empty(element)
    attributes = _lowered(element)
    if attributes.get("rel") not in ("self", "hub") or "href" not in attributes:
        raise _Decline  # an alternate link would become the site link
    attributes["href"] = _urljoin(base, attributes["href"])
    return attributes
