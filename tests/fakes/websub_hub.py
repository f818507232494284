"""A WebSub hub on loopback (W3C WebSub §5-§7), enough to test Herald's subscriber for real:
it takes subscription requests, verifies intent with a GET challenge on the callback, and
distributes content with an `X-Hub-Signature` HMAC of the subscriber's secret.

    hub = WebSubHub().start()
    hub.url  → put in a feed's <atom:link rel="hub">
    hub.verified  → {topic: Subscription} once the subscriber echoed the challenge
    hub.distribute(topic, body)  → status code of the subscriber's answer
    hub.stop()
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass

import httpx
from aiohttp import web

from services.feed_ingest.websub import sign


@dataclass
class Subscription:
    topic: str
    callback: str
    secret: str
    lease_seconds: int


class WebSubHub:
    def __init__(self) -> None:
        self.port = 0
        self.requests: list[dict[str, str]] = []
        self.verified: dict[str, Subscription] = {}
        self.refused: list[str] = []  # callbacks that did not echo the challenge
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> WebSubHub:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())  # type: ignore[union-attr]
            self._loop.close()

        self._thread = threading.Thread(target=run, name="websub-hub", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("hub did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> WebSubHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_post("/", self._subscribe)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _subscribe(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.requests.append(form)
        if form.get("hub.mode") != "subscribe" or not form.get("hub.callback") or not form.get("hub.topic"):
            return web.Response(status=400, text="bad request")
        asyncio.get_running_loop().create_task(self._verify(form))  # §5.3: verification is async
        return web.Response(status=202)

    async def _verify(self, form: dict[str, str]) -> None:
        challenge = secrets.token_hex(16)
        lease = int(form.get("hub.lease_seconds") or 3600)
        params = {
            "hub.mode": "subscribe",
            "hub.topic": form["hub.topic"],
            "hub.challenge": challenge,
            "hub.lease_seconds": str(lease),
        }
        try:
            async with httpx.AsyncClient() as client:
                # §5.3: the callback's own query string is kept, the hub's parameters added
                target = httpx.URL(form["hub.callback"]).copy_merge_params(params)
                response = await client.get(target, timeout=10)
        except httpx.HTTPError as exc:
            self.refused.append(f"{form['hub.callback']}: {type(exc).__name__}: {exc}")
            return
        if response.status_code == 200 and response.text == challenge:
            self.verified[form["hub.topic"]] = Subscription(
                form["hub.topic"], form["hub.callback"], form.get("hub.secret", ""), lease
            )
        else:
            self.refused.append(f"{form['hub.callback']}: HTTP {response.status_code} {response.text[:100]}")

    def verify_forged(self, callback: str, topic: str) -> int:
        """A verification GET for a subscription nobody asked for (wrong token): the status."""
        params = {
            "hub.mode": "subscribe",
            "hub.topic": topic,
            "hub.challenge": "x",
            "hub.lease_seconds": "60",
        }
        return httpx.get(httpx.URL(callback).copy_merge_params(params), timeout=10).status_code

    def distribute(
        self, topic: str, body: bytes, *, content_type: str = "application/rss+xml", forge: bool = False
    ) -> int:
        """§7: POST the new content to the subscriber, signed (or signed with a wrong key)."""
        subscription = self.verified[topic]
        secret = "not-the-secret" if forge else subscription.secret
        headers = {"Content-Type": content_type, "X-Hub-Signature": sign(secret, body, "sha256")}
        return httpx.post(subscription.callback, content=body, headers=headers, timeout=10).status_code
