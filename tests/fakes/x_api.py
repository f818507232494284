"""A real X API v2 server on loopback for tests: POST /2/tweets over TLS (a trustme CA), checking
the OAuth 1.0a header (HMAC-SHA1 signature verified with the known secrets) and the JSON body.

The publisher's tweepy client reaches it through `HERALD_X_API_BASE_URL=fake.base_url` and
`HERALD_X_CA_BUNDLE=fake.ca_path`; its certificate is valid for api.twitter.com (the host tweepy
puts in the URL) and 127.0.0.1. It runs in its own thread and loop, so tests of any kind can use it.

Like X it answers a repeated text with 403 duplicate content; tests can also script answers:
`fake.script("429", "500")` makes the next two calls fail that way.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import trustme
from aiohttp import web
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from tests.support.ports import free_port

CREDENTIALS = {
    "HERALD_X_API_KEY": "fake-consumer-key",
    "HERALD_X_API_SECRET": "fake-consumer-secret",
    "HERALD_X_ACCESS_TOKEN": "12345-fake-access-token",
    "HERALD_X_ACCESS_TOKEN_SECRET": "fake-access-token-secret",
}
REQUIRED_OAUTH = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_nonce",
    "oauth_timestamp",
)
DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


@dataclass
class Call:
    """One request the fake received, and what it answered."""

    text: str | None
    status: int
    oauth: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.time)


class FakeXApi:
    """`start()` / `stop()`; `.posts` (accepted posts), `.calls` (every request), `.base_url`, `.ca_path`."""

    def __init__(
        self, workdir: Path, credentials: dict[str, str] | None = None, *, rate_limit_reset_in: int = 2
    ):
        self.credentials = dict(credentials or CREDENTIALS)
        self.port = free_port()
        self.base_url = f"https://127.0.0.1:{self.port}"
        self.ca_path = workdir / "fake-x-ca.pem"
        self.rate_limit_reset_in = rate_limit_reset_in
        self.posts: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self._scripted: list[str] = []
        self.in_flight = 0
        self._release: asyncio.Event | None = None
        self._ids = itertools.count(1_800_000_000_000_000_000)
        self._lock = threading.Lock()
        self._ca = trustme.CA()
        self._ca.cert_pem.write_to_path(str(self.ca_path))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- control ----------------------------------------------------------------------------
    def script(self, *answers: str) -> None:
        """Answer the next calls with these, in order: "429", "401", "403", "duplicate", "500",
        or "hang" (held until `release()`, then accepted)."""
        with self._lock:
            self._scripted.extend(answers)

    def release(self) -> None:
        """Let calls held by a scripted "hang" answer (they are then accepted, as X would)."""
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def texts(self) -> list[str]:
        return [post["text"] for post in self.posts]

    def start(self) -> FakeXApi:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-x-api", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake X API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FakeXApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- server -----------------------------------------------------------------------------
    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _serve(self) -> None:
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_post("/2/tweets", self._create_tweet)
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert("api.twitter.com", "127.0.0.1", "localhost").configure_cert(server_ssl)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=server_ssl).start()

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _create_tweet(self, request: web.Request) -> web.Response:
        oauth, problem = self._check_oauth(request)
        if problem:
            return self._answer(None, oauth, 401, {"title": "Unauthorized", "detail": problem, "status": 401})
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text:
            return self._answer(None, oauth, 400, {"title": "Invalid Request", "detail": "text is required"})
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted == "hang":  # hold the call until release(): a crash test kills the client meanwhile
            self.in_flight += 1
            assert self._release is not None
            await self._release.wait()
            self.in_flight -= 1
        elif scripted is not None:
            return self._scripted_answer(scripted, text, oauth)
        if text in self.texts():
            return self._answer(text, oauth, 403, DUPLICATE)
        post_id = str(next(self._ids))
        self.posts.append({"id": post_id, "text": text, "oauth": oauth})
        return self._answer(text, oauth, 201, {"data": {"id": post_id, "text": text}})

    def _scripted_answer(self, kind: str, text: str, oauth: dict[str, str]) -> web.Response:
        if kind == "429":
            reset = int(time.time()) + self.rate_limit_reset_in
            headers = {
                "x-rate-limit-limit": "100",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(reset),
            }
            body = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
            return self._answer(text, oauth, 429, body, headers)
        if kind == "duplicate":
            return self._answer(text, oauth, 403, DUPLICATE)
        if kind == "403":
            return self._answer(
                text, oauth, 403, {"title": "Forbidden", "detail": "Forbidden", "status": 403}
            )
        if kind == "401":
            return self._answer(
                text, oauth, 401, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401}
            )
        if kind == "500":
            return self._answer(text, oauth, 500, {"title": "Internal Server Error", "status": 500})
        raise ValueError(f"unknown scripted answer {kind!r}")

    def _answer(
        self,
        text: str | None,
        oauth: dict[str, str],
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self.calls.append(Call(text=text, status=status, oauth=oauth))
        return web.json_response(body, status=status, headers=headers)

    def _check_oauth(self, request: web.Request) -> tuple[dict[str, str], str | None]:
        """Parse `Authorization: OAuth ...` and verify its HMAC-SHA1 signature (RFC 5849 §3.4)."""
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return {}, "missing OAuth 1.0a Authorization header"
        params = oauth_signature.collect_parameters(
            headers={"Authorization": header}, exclude_oauth_signature=False
        )
        oauth = {key: unquote(value) for key, value in params}
        missing = [name for name in REQUIRED_OAUTH if name not in oauth]
        if missing:
            return oauth, f"OAuth header lacks {', '.join(missing)}"
        if oauth["oauth_signature_method"] != "HMAC-SHA1":
            return oauth, f"unsupported signature method {oauth['oauth_signature_method']}"
        if oauth["oauth_consumer_key"] != self.credentials["HERALD_X_API_KEY"]:
            return oauth, "unknown consumer key"
        if oauth["oauth_token"] != self.credentials["HERALD_X_ACCESS_TOKEN"]:
            return oauth, "unknown access token"
        # The client signed the URL it meant (https://api.twitter.com/...), which the Host header keeps.
        uri = f"https://{request.host}{request.path_qs}"
        signed = OAuthRequest(uri, http_method=request.method, headers={"Authorization": header})
        signed.params = oauth_signature.collect_parameters(
            uri_query=request.query_string, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        signed.signature = oauth["oauth_signature"]
        if not oauth_signature.verify_hmac_sha1(
            signed, self.credentials["HERALD_X_API_SECRET"], self.credentials["HERALD_X_ACCESS_TOKEN_SECRET"]
        ):
            return oauth, "OAuth signature does not verify"
        return oauth, None
