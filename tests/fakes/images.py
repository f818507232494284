"""Images on loopback for attachment tests: `GET /img/<name>.png` answers a small valid PNG,
`/big.png` one larger than any cap used in tests, `/page.png` an HTML page (a feed's broken
image link), `/missing.png` 404. `.url(name)` builds the address; `.requests` counts fetches."""

from __future__ import annotations

import struct
import zlib

from aiohttp import web

from tests.fakes.loopback import LoopbackServer


def tiny_png(seed: int = 0) -> bytes:
    """A valid 1x1 RGB PNG, its pixel set by `seed` (so images differ)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixel = bytes([0, seed % 256, (seed * 7) % 256, (seed * 13) % 256])
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


BIG_BYTES = 6 * 1024 * 1024


class FakeImages(LoopbackServer):
    name = "fake-images"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[str] = []

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/img/{name}", self._image)
        app.router.add_get("/big.png", self._big)
        app.router.add_get("/page.png", self._page)

    async def _image(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.Response(body=tiny_png(len(request.match_info["name"])), content_type="image/png")

    async def _big(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})  # no length: streamed
        await response.prepare(request)
        block = b"\0" * 65536
        for _ in range(BIG_BYTES // len(block)):
            await response.write(block)
        await response.write_eof()
        return response

    async def _page(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.Response(text="<html>not found</html>", content_type="text/html")
