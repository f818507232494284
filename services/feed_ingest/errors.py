"""Why a feed could not be fetched or read, as a short code and a sentence a person can act on."""

from __future__ import annotations

from typing import Literal

FeedErrorKind = Literal[
    "bad_url",  # not an http(s) URL
    "unsafe_address",  # resolves to loopback/private/link-local/multicast/reserved/metadata
    "unresolvable",  # DNS gave nothing
    "unreachable",  # connection refused/reset, TLS failure
    "timeout",  # connect/read timeout, or the whole fetch took too long (a trickling server)
    "too_many_redirects",
    "http_error",  # 4xx/5xx (429/503 may carry retry_after_seconds)
    "too_large",  # over settings.feed_ingest.max_feed_bytes, on the wire or once decompressed
    "decompression_bomb",  # decompressed past the cap at a ratio no real feed has
    "unsafe_xml",  # entity expansion bomb, external entity (XXE), parameter entities
    "malformed",  # not a feed Herald can read (or an unsupported Content-Encoding)
    "internal",  # a Herald bug (set by the app, never raised here)
]


class FeedError(Exception):
    """A feed failed in a way that is the feed's (or network's) fault, not Herald's.

    `retry_after_seconds`: the server's Retry-After (429/503), already clamped to [0, 7 days]:
    the scheduler must not poll again sooner."""

    def __init__(
        self,
        kind: FeedErrorKind,
        reason: str,
        *,
        http_status: int | None = None,
        retry_after_seconds: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.kind: FeedErrorKind = kind
        self.reason = reason
        self.http_status = http_status
        self.retry_after_seconds = retry_after_seconds
