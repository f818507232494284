"""The libcurl engine's socket bookkeeping (`curl_loop.CurlLoop`) against real sockets on loopback:
kept-alive connections stay registered with the event loop between requests ("parked"), so
what happens to them while idle must leave the loop and the process clean. No Kafka."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from services.feed_ingest.fetch import FeedFetcher
from shared.settings import HeraldSettings
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.support.kafka import wait_until

pytestmark = pytest.mark.integration

BODY = rss_xml([]).encode()


class ClosingServer:
    """HTTP/1.1 on loopback that answers each request with keep-alive, then closes the
    connection a moment later (as servers do with idle connections). Counts connections."""

    def __init__(self, close_after: float) -> None:
        self.close_after = close_after
        self.connections = 0
        self.closed = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ClosingServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/feed.xml"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
                + f"Content-Length: {len(BODY)}\r\nConnection: keep-alive\r\n\r\n".encode()
                + BODY
            )
            await writer.drain()
            await asyncio.sleep(self.close_after)  # the server's idle timeout
        finally:
            writer.close()
            self.closed += 1


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settings(tmp_path: Path) -> HeraldSettings:
    return HeraldSettings(state_dir=tmp_path, allow_private_networks=True, http_timeout_seconds=5)


async def test_a_parked_connection_the_server_closes_leaves_the_loop_and_the_next_fetch_reconnects(
    tmp_path: Path,
):
    fetcher = FeedFetcher(settings(tmp_path))
    try:
        async with ClosingServer(close_after=0.05) as server:
            assert (await fetcher.fetch(server.url)).status == "ok"
            engine = fetcher._curl
            assert engine is not None
            # libcurl's own wakeup eventfd is watched too; the connection is the one socket.
            [connection] = [
                fd for fd in engine._parked if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
            ]
            await wait_until(lambda: server.closed == 1, timeout=5)
            # The server's FIN makes the parked socket readable: it must be unregistered (else a
            # level-triggered loop would wake for it on every pass), not handed to libcurl.
            await wait_until(lambda: connection not in engine._watched, timeout=5)
            assert (await fetcher.fetch(server.url)).status == "ok"
            assert server.connections == 2
    finally:
        await fetcher.aclose()


async def test_closing_the_fetcher_closes_every_socket_it_kept(tmp_path: Path):
    """Kept-alive connections to several hosts are closed by `aclose` (pycurl cannot always call
    the close callback from the multi handle's cleanup, so the engine closes what is left itself)."""
    before = open_fds()
    with FeedServer(host="0.0.0.0") as server:
        server.set_feed("/a", rss_xml([]))
        fetcher = FeedFetcher(settings(tmp_path))
        urls = [f"http://127.0.0.{n}:{server.port}/a" for n in (1, 2, 3)] * 4
        for _ in range(2):  # twelve at once: several connections per host, then reused
            results = await asyncio.gather(*(fetcher.fetch(url) for url in urls))
            assert {result.status for result in results} == {"ok"}
        engine = fetcher._curl
        assert engine is not None
        sockets = [fd for fd in engine._open if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")]
        assert len(sockets) >= 3  # kept-alive connections, at least one per host
        await fetcher.aclose()
    assert open_fds() <= before
