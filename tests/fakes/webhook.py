"""A real HTTP webhook receiver on loopback (aiohttp), collecting JSON bodies and headers.

`FakeWebhook().start()` serves `POST /hook` on a free 127.0.0.1 port (`.url`); with `any_path=True`
it answers every method on every path (Matrix's `PUT …/send/…/{txnId}`). Every request is kept
in `.requests` as `ReceivedRequest(path, headers, body, method, query, raw, at)` (`at`: when it
arrived, epoch seconds, for benchmarks). `fail_next(n, status)`
makes the next `n` requests answer `status` (to exercise retries); `status` answers all the others.
The server runs its own event loop in a thread, so `start()`/`stop()` are plain calls usable from
sync and async tests; a stopped receiver can be started again on the same port (an outage).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.support.ports import free_port


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: Any
    method: str = "POST"
    query: dict[str, str] | None = None
    raw: bytes = b""
    at: float = 0.0


class FakeWebhook:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        path: str = "/hook",
        *,
        any_path: bool = False,
        status: int = 200,
    ) -> None:
        self.host = host
        self.any_path = any_path
        self.status = status
        self.delay = 0.0  # seconds every answer waits (a slow target)
        self.headers: dict[str, str] = {}  # added to every failure answer (e.g. Retry-After)
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
        arrived = time.time()
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            received = ReceivedRequest(
                request.path, dict(request.headers), body, request.method, dict(request.query), raw, arrived
            )
            self.requests.append(received)
            status = self._failures.pop(0) if self._failures else self.status
        if status == 204:
            return web.Response(status=204)
        if status >= 300:
            return web.json_response({"error": "induced failure"}, status=status, headers=self.headers)
        return web.json_response({"ok": True}, status=status)

    def start(self) -> FakeWebhook:
        ready = threading.Event()
        errors: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            if self.any_path:
                app.router.add_route("*", "/{tail:.*}", self._handle)
            else:
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
