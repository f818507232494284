"""A real HTTP webhook receiver on loopback (aiohttp), collecting JSON bodies and headers.

`FakeWebhook().start()` serves `POST /hook` on a free 127.0.0.1 port (`.url`); every request is kept
in `.requests` as `ReceivedRequest(path, headers, body)`. `fail_next(n, status)` makes the next `n`
requests answer `status` (to exercise retries). The server runs its own event loop in a thread, so
`start()`/`stop()` are plain calls usable from sync and async tests.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: Any


class FakeWebhook:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, path: str = "/hook") -> None:
        self.host = host
        self.port = port or free_port()
        self.path = path
        self.requests: list[ReceivedRequest] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.body for r in self.requests]

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append(ReceivedRequest(request.path, dict(request.headers), body))
            status = self._failures.pop(0) if self._failures else 200
        if status != 200:
            return web.json_response({"error": "induced failure"}, status=status)
        return web.json_response({"ok": True})

    def start(self) -> FakeWebhook:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post(self.path, self._handle)
            self._runner = web.AppRunner(app)
            try:
                loop.run_until_complete(self._runner.setup())
                loop.run_until_complete(web.TCPSite(self._runner, self.host, self.port).start())
            except BaseException as exc:  # surfaced to start()'s caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="fake-webhook", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeWebhook:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
