"""HTML kept from feeds, made safe to show (issue 5 §1/§6). Pure, no I/O, thread-safe.

feedparser already sanitises RSS/Atom HTML; JSON Feed's `content_html` is raw. Both go through
ammonia (via `nh3`, a whitelist sanitiser in Rust) here, so every `content_html` Herald emits
obeys one policy whatever the format: no scripts, styles, event handlers, iframes or forms; links
and images only to http(s) (and mailto/tel links), relative ones made absolute against the item's
base, links marked `rel="noopener noreferrer nofollow"`.
"""

from __future__ import annotations

import threading
from html import escape
from urllib.parse import urlsplit

import nh3

from services.feed_ingest.urls import join_url

#: Long bodies are cut before cleaning (the cleaner closes any tag the cut left open).
MAX_CONTENT_HTML_CHARS = 65536

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "reversed"},
}
_URL_ATTRIBUTES = {"href", "src", "cite"}
_SCHEMES = {"http", "https", "mailto", "tel"}


class _Base(threading.local):
    """The base URL of the `clean_html` call running on this thread, for `_absolute`: the
    cleaner is built once (building one per call cost more than the cleaning), so the base
    cannot be in its filter's closure. Cleaning is synchronous, so one slot per thread is enough."""

    url: str | None = None


_BASE = _Base()


def _absolute(tag: str, attribute: str, value: str) -> str | None:
    if attribute not in _URL_ATTRIBUTES:
        return value
    base_url = _BASE.url
    try:  # urljoin/urlsplit refuse some URLs ("//[": an unclosed IPv6 host): no such link is kept
        resolved = join_url(base_url, value.strip()) if base_url else value.strip()
        scheme = urlsplit(resolved).scheme.lower()
    except ValueError:
        return None  # raised here it would reach stderr as an "Exception ignored" traceback
    return resolved if scheme in _SCHEMES else None


_CLEANER = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style", "template", "noscript", "iframe", "object", "textarea"},
    attributes=_ATTRIBUTES,
    url_schemes=_SCHEMES,
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
    attribute_filter=_absolute,
)


def clean_html(markup: str, *, base_url: str | None = None) -> str:
    """Sanitised HTML; relative URLs resolved against `base_url`."""
    if not markup:
        return ""
    _BASE.url = base_url
    try:
        return _CLEANER.clean(markup[:MAX_CONTENT_HTML_CHARS]).strip()
    finally:
        _BASE.url = None


def text_as_html(text: str) -> str:
    """Plain text as HTML (escaped, paragraphs kept)."""
    paragraphs = [p.strip() for p in text[:MAX_CONTENT_HTML_CHARS].split("\n\n") if p.strip()]
    return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
