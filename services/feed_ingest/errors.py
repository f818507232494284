"""Why a feed could not be fetched or read, as a short code and a sentence a person can act on."""

from __future__ import annotations

from typing import Literal

FeedErrorKind = Literal[
    "bad_url",  # not an http(s) URL
    "unsafe_address",  # resolves to loopback/private/link-local/multicast/reserved
    "unresolvable",  # DNS gave nothing
    "unreachable",  # connection refused/reset, TLS failure
    "timeout",
    "too_many_redirects",
    "http_error",  # 4xx/5xx
    "too_large",  # over settings.max_feed_bytes
    "malformed",  # not a feed feedparser can read
]


class FeedError(Exception):
    """A feed failed in a way that is the feed's (or network's) fault, not Herald's."""

    def __init__(self, kind: FeedErrorKind, reason: str, *, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.kind: FeedErrorKind = kind
        self.reason = reason
        self.http_status = http_status
