"""One HTTP exchange on a reusable libcurl handle, with Herald's rules applied as bytes arrive.

libcurl calls back with each header line, each piece of body and each socket it is about to
connect; `Transfer` checks them there, so a refusal stops the transfer before more is read:
- every address a new connection would use is vetted (`shared.netsafety`), whatever the host
  resolved to, IP literals included: an off-limits one gets no socket at all;
- a declared Content-Length over the cap ends it at the headers; the body is counted on the wire
  and, decoded here in bounded pieces (gzip, deflate, br), once more: a decompression bomb is
  refused after at most cap + 64 KB of memory;
- `last_data` tells the fetcher's read watchdog when bytes last came.
A refusal is kept in `error` and libcurl is told to stop (a callback's "abort" return); the fetcher
raises it.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable

import brotli
import certifi
import pycurl

from services.feed_ingest.decode import ContentDecoder, UnsupportedEncoding
from services.feed_ingest.errors import FeedError
from shared.netsafety import UnsafeURL, VettingResolver

#: Decoded/wire size ratio past which an over-cap body is called a bomb, not just a big feed.
BOMB_RATIO = 100
#: Body bytes of a response whose body is not wanted (redirect, error) read before the
#: connection is dropped instead.
UNWANTED_BODY_BYTES = 64 * 1024
_ABORT = 0  # what a libcurl data callback returns to end the transfer


class Transfer:
    """A libcurl easy handle set up once (callbacks, no proxy, http(s) only, no redirects) and
    the response it is receiving now (`begin` starts a new one)."""

    def __init__(
        self,
        vetting: VettingResolver,
        *,
        limit: int,
        user_agent: str,
        connect_timeout: float,
        on_socket_closed: Callable[[int], int],
    ) -> None:
        """`on_socket_closed(fd)`: closes a socket libcurl is done with (`CurlLoop.socket_closed`,
        which also forgets the loop's watch on it)."""
        self.vetting = vetting
        self.limit = limit
        curl = self.curl = pycurl.Curl()
        curl.setopt(pycurl.NOSIGNAL, 1)
        curl.setopt(pycurl.FOLLOWLOCATION, 0)  # each hop is checked by the fetcher
        curl.setopt(pycurl.PROXY, "")  # never a proxy from the environment: a URL reaches its host
        curl.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.REDIR_PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        curl.setopt(pycurl.USERAGENT, user_agent)
        curl.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(connect_timeout * 1000)))
        curl.setopt(pycurl.HEADERFUNCTION, self._on_header)
        curl.setopt(pycurl.WRITEFUNCTION, self._on_body)
        curl.setopt(pycurl.OPENSOCKETFUNCTION, self._open_socket)
        curl.setopt(pycurl.CLOSESOCKETFUNCTION, on_socket_closed)
        curl.setopt(pycurl.CAINFO, certifi.where())  # the bundled libcurl's own path may not exist here
        self.begin("", "")

    def begin(self, url: str, host: str) -> None:
        """Forget the last response: the next one is for `url` on `host`."""
        self.url = url
        self.host = host
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.error: FeedError | UnsafeURL | None = None
        self.body_ended_early = False  # an unwanted body was cut short: not a failure
        self.new_connection = False  # a socket was opened for it (else a kept-alive one is reused)
        self.last_data = time.monotonic()
        self._decoder: ContentDecoder | None = None
        self._chunks: list[bytes] = []
        self._unwanted = 0
        self.wire = 0
        self._size = 0

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def body(self) -> bytes:
        """The decoded body (after a successful transfer): the decoder's last bytes checked too."""
        if self._decoder is not None:
            self._take_decoded(self._decoder.flush)
            if self.error is not None:
                raise self.error
        return b"".join(self._chunks)

    # --- libcurl's callbacks --------------------------------------------------------------------
    def _on_header(self, line: bytes) -> int | None:
        self.last_data = time.monotonic()
        if line.startswith(b"HTTP/"):  # a response starts (an interim 1xx may come first)
            _, _, rest = line.decode("latin-1").strip().partition(" ")
            code, _, reason = rest.partition(" ")
            self.status = int(code) if code.isdigit() else 0
            self.reason = reason
            self.headers = []
            return None
        if line in (b"\r\n", b"\n"):
            return self._headers_done()
        name, colon, value = line.decode("latin-1").partition(":")
        if colon:
            self.headers.append((name.strip().lower(), value.strip()))
        return None

    def _headers_done(self) -> int | None:
        if not 200 <= self.status < 300:
            return None
        declared = self.header("content-length") or ""
        if declared.isdigit() and int(declared) > self.limit:
            return self._refuse(
                FeedError(
                    "too_large",
                    f"feed at {self.url} is {declared} bytes, over the {self.limit}-byte limit",
                    http_status=self.status,
                )
            )
        try:
            self._decoder = ContentDecoder(self.header("content-encoding"))
        except UnsupportedEncoding as exc:
            return self._refuse(FeedError("malformed", f"{exc} from {self.url}", http_status=self.status))
        return None

    def _on_body(self, data: bytes) -> int | None:
        self.last_data = time.monotonic()
        if self._decoder is None:  # a redirect's or an error's body: not needed
            self._unwanted += len(data)
            if self._unwanted > UNWANTED_BODY_BYTES:
                self.body_ended_early = True
                return _ABORT
            return None
        self.wire += len(data)
        if self.wire > self.limit:
            return self._refuse(
                FeedError(
                    "too_large",
                    f"feed at {self.url} is over the {self.limit}-byte limit",
                    http_status=self.status,
                )
            )
        decoder = self._decoder
        self._take_decoded(lambda: decoder.feed(data))
        return _ABORT if self.error is not None else None

    def _take_decoded(self, pieces: Callable[[], Iterable[bytes]]) -> None:
        try:
            self._take(pieces())
        except FeedError as exc:
            self.error = exc
        except (zlib.error, brotli.error) as exc:
            coding = self.header("content-encoding")
            self.error = FeedError(
                "malformed",
                f"could not decode the {coding} body from {self.url}: {exc}",
                http_status=self.status,
            )

    def _take(self, pieces: Iterable[bytes]) -> None:
        for piece in pieces:
            self._size += len(piece)
            if self._size > self.limit:
                if self._size > BOMB_RATIO * max(self.wire, 1):
                    raise FeedError(
                        "decompression_bomb",
                        f"feed at {self.url} expands from {self.wire} bytes to over {self.limit} bytes "
                        f"({self.header('content-encoding')}); refused",
                        http_status=self.status,
                    )
                raise FeedError(
                    "too_large",
                    f"feed at {self.url} is over the {self.limit}-byte limit once decoded",
                    http_status=self.status,
                )
            self._chunks.append(piece)

    def _refuse(self, error: FeedError) -> int:
        self.error = error
        return _ABORT

    def _open_socket(self, purpose: int, address: tuple) -> object:
        """Every new connection's address, vetted before its socket exists (the same check as
        the aiohttp sessions' socket factory)."""
        family, socktype, protocol, sockaddr = address
        try:
            made = self.vetting.socket_for((family, socktype, protocol, "", sockaddr))
        except UnsafeURL as exc:
            self.error = exc
            return pycurl.SOCKET_BAD
        self.new_connection = True
        return made

    def close(self) -> None:
        self.curl.close()
