"""HTTP content decoding (gzip, deflate, br) with bounded output, and the caching headers a
scheduler honours. Pure: no I/O.

HTTP clients' automatic decompression decodes a whole network chunk at once with no output limit,
so a 64 KB chunk of a gzip bomb becomes ~64 MB in one call, and a brotli bomb far more. The
fetcher reads the raw body instead, and here each call yields at most
`PIECE` bytes, so the fetcher can stop at its cap with memory bounded by cap + PIECE.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import brotli

PIECE = 64 * 1024
#: Longest wait a server may ask for (Retry-After, max-age): longer ones are clamped.
MAX_HINT_SECONDS = 7 * 24 * 60 * 60
ACCEPT_ENCODING = "gzip, deflate, br"


class UnsupportedEncoding(ValueError):
    """A Content-Encoding Herald does not decode (it never asks for one)."""


class _Zlib:
    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._wbits = 16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._first = True

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._d.decompress(data, PIECE)
            except zlib.error:
                if self._first and not self._gzip:  # "deflate" sent as raw deflate (common)
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise
            self._first = False
            if out:
                yield out
            data = self._d.unconsumed_tail
            if not data and self._d.eof and self._d.unused_data and self._gzip:
                data = self._d.unused_data  # a multi-member gzip stream
                self._d = zlib.decompressobj(self._wbits)

    def flush(self) -> Iterator[bytes]:
        out = self._d.flush(PIECE)
        if out:
            yield out


class _Brotli:
    def __init__(self) -> None:
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out = self._d.process(data, output_buffer_limit=PIECE)
        if out:
            yield out
        while not self._d.can_accept_more_data():
            out = self._d.process(b"", output_buffer_limit=PIECE)
            if not out:
                break
            yield out

    def flush(self) -> Iterator[bytes]:
        return iter(())


class ContentDecoder:
    """Undo a response's Content-Encoding chain, in bounded pieces."""

    def __init__(self, content_encoding: str | None) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        self._stages: list[_Zlib | _Brotli] = []
        for coding in reversed(codings):  # the last applied is undone first
            if coding in ("gzip", "x-gzip"):
                self._stages.append(_Zlib(gzip=True))
            elif coding == "deflate":
                self._stages.append(_Zlib(gzip=False))
            elif coding == "br":
                self._stages.append(_Brotli())
            elif coding != "identity":
                raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}")

    @property
    def identity(self) -> bool:
        return not self._stages

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Decoded pieces of `data`, each at most `PIECE` bytes (raises zlib.error/brotli.error)."""
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, stage in enumerate(self._stages):
            for piece in stage.flush():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._stages):
            yield data
            return
        for piece in self._stages[index].feed(data):
            yield from self._through(index + 1, piece)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), clamped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), MAX_HINT_SECONDS))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return float(min(max(0.0, delta), MAX_HINT_SECONDS))


def max_age_seconds(cache_control: str | None) -> float | None:
    """Cache-Control max-age in seconds (Herald is a private cache: s-maxage is not for it); None
    when absent or the response may not be reused (no-store/no-cache)."""
    if not cache_control:
        return None
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, arg = part.strip().partition("=")
        directives[name.strip().lower()] = arg.strip().strip('"')
    if "no-store" in directives or "no-cache" in directives:
        return None
    arg = directives.get("max-age", "")
    return float(min(int(arg), MAX_HINT_SECONDS)) if arg.isdigit() else None
