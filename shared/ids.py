"""Stable ids that more than one part of Herald derives: feeds (CLI and feed_ingest). Staff ids are
not derived (a name is not unique): see herald/staff_file.py. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit, urlunsplit

from pydantic import HttpUrl, TypeAdapter, ValidationError

_HTTP_URL = TypeAdapter(HttpUrl)


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, drop default ports and the fragment, keep path and query."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    return urlunsplit((scheme, host, path, parts.query, ""))


def feed_id_for(url: str) -> str:
    """`feed-` + 16 hex of the normalised URL: the same feed added twice is one subscription.

    The URL is first spelled as pydantic's `HttpUrl` spells it (punycode hosts, percent-encoding,
    dot segments resolved), because that is how it travels in `FeedSubscribed.url`: the id
    computed from the event and from what the user typed must agree."""
    try:
        url = str(_HTTP_URL.validate_python(url.strip()))
    except ValidationError:
        pass  # not an http(s) URL: callers reject it; the id is still deterministic
    return "feed-" + hashlib.sha256(normalise_url(url).encode()).hexdigest()[:16]
