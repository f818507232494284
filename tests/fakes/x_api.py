"""A real X API v2 server on loopback for tests: POST /2/tweets over TLS (a trustme CA), checking
the OAuth 1.0a header (HMAC-SHA1 signature verified with the known secrets) and the JSON body.

The publisher's tweepy client reaches it through `HERALD_X_API_BASE_URL=fake.base_url` and
`HERALD_X_CA_BUNDLE=fake.ca_path`; its certificate is valid for api.twitter.com (the host tweepy
puts in the URL) and 127.0.0.1. It runs in its own thread and loop, so tests of any kind can use it.

Like X it answers a repeated text with 403 duplicate content; tests can also script answers:
`fake.script("429", "500")` makes the next two calls fail that way.

Also served, for image attachments and the "was it posted?" lookup: `POST /2/media/upload`
(multipart `media`, OAuth-checked; `.media` keeps what arrived; `fail_uploads(n)` answers 400),
`GET /2/users/me` and `GET /2/users/:id/tweets` (newest first, with `entities.urls` expanded as X
does). Every answer carries `x-rate-limit-*` headers (`rate_limit_remaining` counts down per post).
The directory's routes (user lookup, its users' timelines, an X List's members) are
`fake.directory` (`tests/fakes/x_directory.py`), with their own scripted answers.
Switches for recovery tests: `hide_timeline()` (the timeline lookup finds nothing, as if X had not
shown the post yet), `timeline_reads` (how often it was looked at), `drop_held_call()` (a held
call ends without the post, as if it never reached X) and `fail_every_call("500")` (every
create-tweet call answers so, until `None`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
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

from tests.fakes.x_directory import XDirectoryRoutes
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
USER_ID = "2244994945"
USERNAME = "herald_test"
_URL_RE = re.compile(r"https?://\S+")
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
        self.media: list[dict[str, Any]] = []
        self.rate_limit_remaining = 100
        self._upload_failures = 0
        self._media_ids = itertools.count(1_900_000_000_000_000_000)
        self._scripted: list[str] = []
        self._every_call: str | None = None
        self.timeline_hidden = False
        self.timeline_reads = 0  # the account's own timeline read (the "was it posted?" lookup)
        self.in_flight = 0
        self._release: asyncio.Event | None = None
        self._drop_held = False
        self._ids = itertools.count(1_800_000_000_000_000_000)
        self._lock = threading.Lock()
        self.directory = XDirectoryRoutes(self._check_oauth, self._answer)
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

    def fail_every_call(self, answer: str | None) -> None:
        """Answer every create-tweet call not otherwise scripted with `answer` (as in `script`),
        until called again with None."""
        with self._lock:
            self._every_call = answer

    def hide_timeline(self, hidden: bool = True) -> None:
        """The account's timeline (`GET /2/users/:id/tweets`) shows no posts while `hidden`."""
        self.timeline_hidden = hidden

    def fail_uploads(self, count: int = 1) -> None:
        """The next `count` media uploads answer 400."""
        with self._lock:
            self._upload_failures += count

    def add_existing_post(self, text: str, link: str | None = None) -> str:
        """Put a post on the account's timeline (as if made earlier, e.g. before a crash)."""
        post_id = str(next(self._ids))
        self.posts.append({"id": post_id, "text": text, "oauth": {}, "media_ids": [], "link": link})
        return post_id

    def release(self) -> None:
        """Let calls held by a scripted "hang" answer (they are then accepted, as X would)."""
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def drop_held_call(self) -> None:
        """End calls held by a scripted "hang" without taking the post (it never reached X: a
        connection dropped on the way), answering 503."""
        self._drop_held = True
        self.release()

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
        app.router.add_post("/2/media/upload", self._upload_media)
        app.router.add_get("/2/users/me", self._users_me)
        app.router.add_get("/2/users/{user_id}/tweets", self._user_tweets)
        self.directory.install(app)
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
            scripted = self._scripted.pop(0) if self._scripted else self._every_call
        if scripted == "hang":  # hold the call until release(): a crash test kills the client meanwhile
            if self._release is None or self._release.is_set():
                self._release = asyncio.Event()  # a new hold after an earlier release
            self.in_flight += 1
            await self._release.wait()
            self.in_flight -= 1
            if self._drop_held:
                self._drop_held = False
                return self._answer(text, oauth, 503, {"title": "Service Unavailable", "status": 503})
        elif scripted is not None:
            return self._scripted_answer(scripted, text, oauth)
        if text in self.texts():
            return self._answer(text, oauth, 403, DUPLICATE)
        media_ids = [str(m) for m in ((body.get("media") or {}).get("media_ids") or [])]
        known = {m["id"] for m in self.media}
        unknown = [m for m in media_ids if m not in known]
        if unknown:
            return self._answer(
                text, oauth, 400, {"title": "Invalid Request", "detail": f"unknown media id {unknown[0]}"}
            )
        post_id = str(next(self._ids))
        self.posts.append({"id": post_id, "text": text, "oauth": oauth, "media_ids": media_ids})
        self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
        return self._answer(text, oauth, 201, {"data": {"id": post_id, "text": text}}, self._limit_headers())

    def _limit_headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": str(self.rate_limit_remaining),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }

    async def _upload_media(self, request: web.Request) -> web.Response:
        oauth, problem = self._check_oauth(request)
        if problem:
            return self._answer(None, oauth, 401, {"title": "Unauthorized", "detail": problem, "status": 401})
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            if part.name == "media":
                fields["media"] = await part.read()
                fields["content_type"] = part.headers.get("Content-Type", "")
            elif part.name:
                fields[part.name] = await part.text()
        with self._lock:
            failing = self._upload_failures > 0
            self._upload_failures -= 1 if failing else 0
        if failing:
            return self._answer(
                None, oauth, 400, {"title": "Invalid Request", "detail": "media type unrecognized"}
            )
        if not fields.get("media"):
            return self._answer(None, oauth, 400, {"title": "Invalid Request", "detail": "media is required"})
        media_id = str(next(self._media_ids))
        self.media.append(
            {
                "id": media_id,
                "bytes": fields["media"],
                "content_type": fields.get("content_type"),
                "media_category": fields.get("media_category"),
            }
        )
        body = {"data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(fields["media"])}}
        return self._answer(None, oauth, 200, body, self._limit_headers())

    async def _users_me(self, request: web.Request) -> web.Response:
        oauth, problem = self._check_oauth(request)
        if problem:
            return self._answer(None, oauth, 401, {"title": "Unauthorized", "detail": problem, "status": 401})
        body = {"data": {"id": USER_ID, "name": "Herald Test", "username": USERNAME}}
        return self._answer(None, oauth, 200, body, self._limit_headers())

    async def _user_tweets(self, request: web.Request) -> web.Response:
        oauth, problem = self._check_oauth(request)
        if problem:
            return self._answer(None, oauth, 401, {"title": "Unauthorized", "detail": problem, "status": 401})
        if (user := self.directory.by_id(request.match_info["user_id"])) is not None:
            return await self.directory.user_tweets(request, oauth, user)
        if request.match_info["user_id"] != USER_ID:
            return self._answer(None, oauth, 404, {"title": "Not Found Error", "detail": "no such user"})
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            return self._scripted_answer(scripted, "", oauth)
        limit = int(request.query.get("max_results", "10"))
        self.timeline_reads += 1
        data = []
        for post in [] if self.timeline_hidden else reversed(self.posts[-limit:]):
            # X shows links as t.co in `text`; entities.urls keep the expanded URL.
            links = _URL_RE.findall(post["text"]) or ([post["link"]] if post.get("link") else [])
            shown = _URL_RE.sub("https://t.co/abc123", post["text"])
            tweet: dict[str, Any] = {"id": post["id"], "text": shown}
            if "entities" in request.query.get("tweet.fields", ""):
                tweet["entities"] = {
                    "urls": [
                        {"url": "https://t.co/abc123", "expanded_url": link, "display_url": link[:20]}
                        for link in links
                    ]
                }
            data.append(tweet)
        return self._answer(None, oauth, 200, {"data": data, "meta": {"result_count": len(data)}})

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
