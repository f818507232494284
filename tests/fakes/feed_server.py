"""A real HTTP server on loopback that serves feeds the way council websites do (ETag,
Last-Modified, 304 Not Modified), for tests of feed_ingest and of the whole stack.

It runs its own event loop in a thread, so sync tests, async tests and blocking helpers
(ServiceProcess.start) can all use it while it answers:

    server = FeedServer().start()
    server.set_feed("/news.xml", rss_xml(...))
    url = server.url("/news.xml")
    ...
    server.requests["/news.xml"], server.not_modified["/news.xml"]
    server.stop()

Tricky servers too (issue 5): `delay` before the headers, bodies trickled a chunk at a time,
`encoding` gzip/deflate/br applied by the server, endless generated bodies (`set_stream`),
redirect chains (`set_redirect`), any status with headers (429/503 + Retry-After, Cache-Control).
`max_in_flight` tells the most requests it was serving at once.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import threading
import zlib
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape

import brotli
from aiohttp import web


@dataclass
class _Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    status: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    trickle: tuple[int, float] | None = None  # (bytes per chunk, seconds between chunks)
    stream: tuple[bytes, int] | None = None  # (chunk, how many times): a body never held whole


class FeedServer:
    """Serves mutable feeds; counts requests and 304s per path; remembers the last request headers."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.last_request_headers: dict[str, dict[str, str]] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self._resources: dict[str, _Resource] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- content ------------------------------------------------------------------------------
    def set_feed(
        self,
        path: str,
        xml: str | bytes,
        *,
        content_type: str = "application/rss+xml; charset=utf-8",
        status: int = 200,
        headers: dict[str, str] | None = None,
        encoding: str | None = None,
        delay: float = 0.0,
        trickle: tuple[int, float] | None = None,
        stream: tuple[bytes, int] | None = None,
    ) -> None:
        """Serve `xml` at `path` from now on, with a new ETag (and Last-Modified if the body changed).

        `encoding` ("gzip", "deflate", "br") compresses the body and sets Content-Encoding."""
        body = xml.encode() if isinstance(xml, str) else xml
        headers = dict(headers or {})
        if encoding is not None:
            body = compress(body, encoding)
            headers["Content-Encoding"] = encoding
        with self._lock:
            previous = self._resources.get(path)
            changed = previous is None or previous.body != body
            self._resources[path] = _Resource(
                body=body,
                content_type=content_type,
                etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"',
                last_modified=formatdate(usegmt=True)
                if changed or previous is None
                else previous.last_modified,
                status=status,
                extra_headers=headers,
                delay=delay,
                trickle=trickle,
                stream=stream,
            )

    def set_status(
        self, path: str, status: int, body: str = "", *, headers: dict[str, str] | None = None
    ) -> None:
        """Answer `path` with this status (e.g. 500, 404, 429) until `set_feed` is called again."""
        self.set_feed(path, body, content_type="text/plain; charset=utf-8", status=status, headers=headers)

    def set_redirect(self, path: str, location: str, status: int = 301) -> None:
        """Redirect `path` to `location` (absolute, or a path on this server)."""
        self.set_feed(path, "", status=status, headers={"Location": location})

    def set_stream(self, path: str, chunk: bytes, count: int, **options: object) -> None:
        """Serve `chunk` `count` times (no Content-Length): a huge body the server never holds."""
        self.set_feed(path, b"", stream=(chunk, count), **options)  # type: ignore[arg-type]

    def remove(self, path: str) -> None:
        with self._lock:
            self._resources.pop(path, None)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_not_modified(self) -> int:
        return sum(self.not_modified.values())

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> FeedServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="feed-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("feed server did not start")
        if failure:
            raise RuntimeError(f"feed server did not start: {failure[0]}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1  # the server's own loop: no lock needed
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        with self._lock:
            self.requests[path] += 1
            self.last_request_headers[path] = dict(request.headers)
            resource = self._resources.get(path)
        if resource is not None and resource.delay:
            await asyncio.sleep(resource.delay)
        if resource is None:
            return web.Response(status=404, text="not found")
        if resource.status != 200:
            headers = {"Content-Type": resource.content_type, **resource.extra_headers}
            return web.Response(status=resource.status, body=resource.body, headers=headers)
        validators = {"ETag": resource.etag, "Last-Modified": resource.last_modified}
        if _not_modified(request, resource):
            with self._lock:
                self.not_modified[path] += 1
            # RFC 9110 §15.4.5: a 304 repeats Cache-Control (and Expires, Vary) of the 200
            kept = {
                k: v for k, v in resource.extra_headers.items() if k.lower() in ("cache-control", "expires")
            }
            return web.Response(status=304, headers={**validators, **kept})
        headers = {**validators, **resource.extra_headers, "Content-Type": resource.content_type}
        if resource.trickle is None and resource.stream is None:
            return web.Response(status=200, body=resource.body, headers=headers)
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        try:
            if resource.stream is not None:
                chunk, count = resource.stream
                for _ in range(count):
                    await response.write(chunk)
            else:
                size, interval = resource.trickle or (1, 0.0)
                for start in range(0, len(resource.body), size):
                    await response.write(resource.body[start : start + size])
                    await asyncio.sleep(interval)
            await response.write_eof()
        except ConnectionError:
            pass  # the client gave up (as Herald should, past its caps and deadlines)
        return response


def _not_modified(request: web.Request, resource: _Resource) -> bool:
    """RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since only when it is absent."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return resource.etag in tags or "*" in tags
    return request.headers.get("If-Modified-Since") == resource.last_modified


def compress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.compress(body)
    if encoding == "deflate":
        return zlib.compress(body)
    if encoding == "br":
        return brotli.compress(body, quality=5)
    raise ValueError(f"unknown encoding {encoding!r}")


def rss_xml(items: list[dict[str, str]], *, title: str = "Lowshire County Council — News") -> str:
    """A small RSS 2.0 document; each item may have title, link, guid, description, pubDate."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://www.lowshire.example/news</link>",
        "<description>Council news</description>",
    ]
    for item in items:
        parts.append("<item>")
        for tag in ("title", "link", "guid", "description", "pubDate"):
            if tag in item:
                attrs = ' isPermaLink="false"' if tag == "guid" else ""
                parts.append(f"<{tag}{attrs}>{escape(item[tag])}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)
