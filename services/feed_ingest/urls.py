"""Resolving a feed's URLs against their base, quickly for the usual case.

Nearly every link, guid and image URL in a feed is already absolute and plain. For those
`urllib.parse.urljoin` parses both URLs, rebuilds the link and hands back the same string, and at
twenty items a feed that was a tenth of the parse. `join_url` returns such a link as it is and
asks `urljoin` about everything else, so its result is always `urljoin`'s (checked against it on
random URLs in tests/unit/feed_ingest/test_urls.py). `identity.normalise_link` reads such a URL's
parts with the same pattern instead of `urlsplit` (checked in test_identity.py).
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from feedparser.urls import make_safe_absolute_uri

#: http(s), a plain host (and port), then path, query and fragment of characters `urlsplit`
#: keeps as they are; a `?` or `#` with nothing after it and any `;` (path parameters) are left
#: to `urljoin`, which would drop or move them.
_PLAIN_ABSOLUTE = re.compile(
    r"https?://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?"
    r"(?P<path>/[A-Za-z0-9._~!$&'()*+,=:@%/-]*)?"
    r"(?:\?(?P<query>[A-Za-z0-9._~!$&'()*+,=:@%/?-]+))?"
    r"(?:#[A-Za-z0-9._~!$&'()*+,=:@%/?#-]+)?"
)


def join_url(base: str, link: str) -> str:
    """`urljoin(base, link)`, without the work when `link` is a plain absolute http(s) URL."""
    return link if is_plain_absolute(link) else urljoin(base, link)


def is_plain_absolute(link: str) -> bool:
    """True when `urljoin` would give `link` back unchanged whatever the base (see `join_url`)."""
    return _PLAIN_ABSOLUTE.fullmatch(link) is not None


def plain_parts(link: str) -> tuple[str, int | None, str, str] | None:
    """(host, port, path, query) of a plain absolute http(s) URL, as `urlsplit` would split it;
    None for any other URL (or a port no URL may have)."""
    match = _PLAIN_ABSOLUTE.fullmatch(link)
    if match is None:
        return None
    port = int(match["port"]) if match["port"] is not None else None
    if port is not None and port > 65535:
        return None
    return match["host"], port, match["path"] or "", match["query"] or ""


def document_base(url: str, content_location: str | None) -> str:
    """The base URI of a fetched feed's relative links: the Content-Location header resolved
    against the URL fetched, else that URL. This is feedparser's rule (`feedparser.api.parse`),
    by its own function, so both readers resolve alike: a location whose scheme feedparser does
    not accept (javascript:, data:) is ignored; xml:base inside the document still wins. (RFC 2616
    §14.14 made Content-Location the base; RFC 7231 dropped that, Appendix B, but feedparser and
    the feed readers built on it keep it.)"""
    location = (content_location or "").strip()
    if not location:
        return url
    return make_safe_absolute_uri(url, location) or make_safe_absolute_uri(location) or url
