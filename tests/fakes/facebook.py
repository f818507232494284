"""The Graph API's Page feed on loopback (aiohttp): `POST /{version}/{page-id}/feed` with form
fields `message`, `link`, `access_token` (and `appsecret_proof` when an app secret is set).

It checks the token and the proof, answers errors in Graph's shape
(`{"error": {"message", "type", "code", "fbtrace_id"}}`), sends `X-Page-Usage` on every answer,
and refuses a repeated message as Graph does (code 506). `script("throttle", "500", "190")` makes
the next calls fail that way.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

PAGE_ID = "104512345678901"
PAGE_TOKEN = "EAAfakePageToken"
VERSION = "v21.0"


class FakeFacebook(LoopbackServer):
    name = "fake-facebook"

    def __init__(self, *, page_id: str = PAGE_ID, token: str = PAGE_TOKEN, app_secret: str | None = None):
        super().__init__()
        self.page_id = page_id
        self.token = token
        self.app_secret = app_secret
        self.posts: list[dict[str, Any]] = []
        self.calls = 0
        self.call_count_percent = 10
        self._scripted: list[str] = []
        self._ids = itertools.count(800_000_000_000_001)

    def script(self, *answers: str) -> None:
        with self.lock:
            self._scripted.extend(answers)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{version}/{page_id}/feed", self._feed)

    def _error(
        self, status: int, code: int, message: str, kind: str = "OAuthException", **extra: Any
    ) -> web.Response:
        body = {"error": {"message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEf", **extra}}
        return web.json_response(body, status=status, headers=self._headers())

    def _headers(self, regain_minutes: int = 0) -> dict[str, str]:
        usage = {"call_count": self.call_count_percent, "total_cputime": 1, "total_time": 1}
        if regain_minutes:
            usage["estimated_time_to_regain_access"] = regain_minutes
        return {"X-Page-Usage": json.dumps(usage)}

    async def _feed(self, request: web.Request) -> web.Response:
        with self.lock:
            self.calls += 1
            scripted = self._scripted.pop(0) if self._scripted else None
        if request.match_info["version"] != VERSION:
            return self._error(400, 2635, f"Version {request.match_info['version']} is not served here")
        form = await request.post()
        token = form.get("access_token")
        if token != self.token:
            return self._error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        if self.app_secret is not None:
            proof = hmac.new(self.app_secret.encode(), self.token.encode(), hashlib.sha256).hexdigest()
            if form.get("appsecret_proof") != proof:
                return self._error(
                    400, 100, "Invalid appsecret_proof provided in the API argument", "GraphMethodException"
                )
        if request.match_info["page_id"] != self.page_id:
            return self._error(
                400, 100, "Unsupported post request. Object does not exist", "GraphMethodException"
            )
        if scripted == "throttle":
            self.call_count_percent = 100
            body = {
                "error": {"message": "(#32) Page request limit reached", "type": "OAuthException", "code": 32}
            }
            return web.json_response(body, status=400, headers=self._headers(regain_minutes=1))
        if scripted == "500":
            return self._error(
                500,
                2,
                "An unexpected error has occurred. Please retry your request later.",
                is_transient=True,
            )
        if scripted == "190":
            return self._error(400, 190, "Error validating access token: Session has expired")
        message = form.get("message")
        link = form.get("link")
        if not message and not link:
            return self._error(400, 100, "(#100) Missing message or attachment", "GraphMethodException")
        if message and any(post["message"] == message for post in self.posts):
            return self._error(400, 506, "Duplicate status message", "GraphMethodException")
        post_id = f"{self.page_id}_{next(self._ids)}"
        self.posts.append({"id": post_id, "message": message, "link": link})
        return web.json_response({"id": post_id}, headers=self._headers())
