"""A Mastodon instance on loopback (aiohttp) for the publisher's Mastodon channel, spoken to by the
real client code over HTTP.

Endpoints: `POST /api/v1/statuses` (JSON or form; bearer token; `Idempotency-Key` honoured — the
same key from the same account answers the status it already made, nothing new is posted),
`POST /api/v2/media` (multipart `file`; `processing_polls=n` makes it answer 202 and n polls of
`GET /api/v1/media/:id` answer 206 before the URL appears), `GET /api/v1/accounts/verify_credentials`,
`GET /api/v1/accounts/:id/statuses`. Every answer has `X-RateLimit-Limit/-Remaining/-Reset`
(ISO 8601). `script("429", "500", "422", "401")` makes the next status calls fail that way;
`script("hang")` holds the next status call until `release()` (then it is handled as usual), and
`hide_statuses` makes the account's status list answer empty.

For the directory's checks: `GET /api/v1/accounts/lookup?acct=user@host` (public, no token) answers
the accounts added with `add_account(acct, …)` (`locked`, `last_status_at`, `moved`, `suspended`),
404 for others; `script_lookups("429", "500")` has its own queue.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

TOKEN = "fake-mastodon-token"
ACCOUNT_ID = "109876543210"
USERNAME = "council"
_URL_RE = re.compile(r"https?://\S+")


class FakeMastodon(LoopbackServer):
    name = "fake-mastodon"

    def __init__(self, token: str = TOKEN, *, rate_limit_reset_in: int = 3) -> None:
        super().__init__()
        self.token = token
        self.statuses: list[dict[str, Any]] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.status_calls = 0
        self.idempotency: dict[str, str] = {}  # key → status id
        self.idempotency_keys_seen: list[str | None] = []
        self.rate_limit_remaining = 300
        self.rate_limit_reset_in = rate_limit_reset_in
        self.processing_polls = 0
        self._scripted: list[str] = []
        self._ids = itertools.count(110_000_000_000_000_000)
        self._release = asyncio.Event()  # bound to the server's loop on first wait
        self.in_flight = 0
        self.hide_statuses = False
        self.lookup_accounts: dict[str, dict[str, Any]] = {}  # casefolded acct → account
        self.lookups: list[str] = []
        self._scripted_lookups: list[str] = []

    def script(self, *answers: str) -> None:
        with self.lock:
            self._scripted.extend(answers)

    def add_account(
        self, acct: str, *, locked: bool = False, last_status_at: str | None = None, **more: Any
    ) -> None:
        """An account the lookup finds; `acct` is `user@host`, `last_status_at` a date (YYYY-MM-DD)."""
        user = acct.partition("@")[0]
        self.lookup_accounts[acct.casefold()] = {
            "id": str(next(self._ids)),
            "username": user,
            "acct": acct,
            "url": f"{self.base_url}/@{user}",
            "locked": locked,
            "last_status_at": last_status_at,
            **more,
        }

    def script_lookups(self, *answers: str) -> None:
        with self.lock:
            self._scripted_lookups.extend(answers)

    def texts(self) -> list[str]:
        return [status["text"] for status in self.statuses]

    def release(self) -> None:
        """Let status calls held by a scripted "hang" go on (they are then handled as usual)."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def add_existing_status(self, text: str) -> str:
        return self._make_status(text, [])["id"]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/statuses", self._post_status)
        app.router.add_post("/api/v2/media", self._post_media)
        app.router.add_get("/api/v1/media/{id}", self._get_media)
        app.router.add_get("/api/v1/accounts/verify_credentials", self._verify_credentials)
        app.router.add_get("/api/v1/accounts/lookup", self._lookup)
        app.router.add_get("/api/v1/accounts/{id}/statuses", self._account_statuses)

    # --- helpers ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        reset = datetime.now(UTC) + timedelta(seconds=self.rate_limit_reset_in)
        return {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": str(self.rate_limit_remaining),
            "X-RateLimit-Reset": reset.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }

    def _json(self, body: Any, status: int = 200) -> web.Response:
        return web.json_response(body, status=status, headers=self._headers())

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _unauthorized(self) -> web.Response:
        return self._json({"error": "The access token is invalid"}, 401)

    def _make_status(self, text: str, media_ids: list[str]) -> dict[str, Any]:
        status_id = str(next(self._ids))
        linked = _URL_RE.sub(
            lambda m: f'<a href="{html.escape(m.group(0))}">{html.escape(m.group(0))}</a>', html.escape(text)
        )
        status = {
            "id": status_id,
            "text": text,
            "content": f"<p>{linked}</p>",
            "url": f"{self.base_url}/@{USERNAME}/{status_id}",
            "uri": f"{self.base_url}/users/{USERNAME}/statuses/{status_id}",
            "created_at": datetime.now(UTC).isoformat(),
            "visibility": "public",
            "media_attachments": [self.media[m] for m in media_ids],
            "card": None,
        }
        self.statuses.append(status)
        return status

    def _public(self, status: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in status.items() if k != "text"}

    # --- endpoints --------------------------------------------------------------------------
    async def _post_status(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if request.content_type == "application/json":
            body = await request.json()
            media_ids = [str(m) for m in body.get("media_ids") or []]
        else:
            form = await request.post()
            body = dict(form)
            media_ids = [str(m) for m in form.getall("media_ids[]", [])]
        text = body.get("status")
        key = request.headers.get("Idempotency-Key")
        with self.lock:
            self.status_calls += 1
            self.idempotency_keys_seen.append(key)
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted == "hang":  # held until release(): a crash test kills the client meanwhile
            self.in_flight += 1
            await self._release.wait()
            self.in_flight -= 1
        if scripted == "429":
            self.rate_limit_remaining = 0
            return self._json({"error": "Too many requests"}, 429)
        if scripted == "500":
            return self._json({"error": "We're sorry, but something went wrong on our end."}, 500)
        if scripted == "401":
            return self._unauthorized()
        if scripted == "422":
            return self._json({"error": "Validation failed: Text character limit of 500 exceeded"}, 422)
        if not isinstance(text, str) or not text.strip():
            return self._json({"error": "Validation failed: Text can't be blank"}, 422)
        if len(text) > 500 + 23 * len(_URL_RE.findall(text)):
            return self._json({"error": "Validation failed: Text character limit of 500 exceeded"}, 422)
        unknown = [m for m in media_ids if m not in self.media]
        if unknown:
            return self._json({"error": "Record not found"}, 404)
        if any(self.media[m]["url"] is None for m in media_ids):
            return self._json(
                {"error": "Cannot attach files that have not finished processing. Try again in a moment!"},
                422,
            )
        if key is not None and key in self.idempotency:  # Mastodon: same key → the same status
            existing = next(s for s in self.statuses if s["id"] == self.idempotency[key])
            return self._json(self._public(existing))
        self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)
        status = self._make_status(text, media_ids)
        if key is not None:
            self.idempotency[key] = status["id"]
        return self._json(self._public(status))

    async def _post_media(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            if part.name == "file":
                fields["file"] = await part.read()
                fields["content_type"] = part.headers.get("Content-Type", "")
                fields["filename"] = part.filename
            elif part.name:
                fields[part.name] = await part.text()
        if not fields.get("file"):
            return self._json({"error": "Validation failed: File can't be blank"}, 422)
        if not fields["content_type"].startswith("image/"):
            return self._json(
                {"error": "Validation failed: File has contents that are not what they are reported to be"},
                422,
            )
        media_id = str(next(self._ids))
        processing = self.processing_polls > 0
        attachment = {
            "id": media_id,
            "type": "image",
            "url": None if processing else f"{self.base_url}/media/{media_id}.png",
            "description": fields.get("description"),
            "bytes": len(fields["file"]),
            "polls_left": self.processing_polls,
        }
        self.media[media_id] = attachment
        return self._json(self._attachment(attachment), 202 if processing else 200)

    async def _get_media(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        attachment = self.media.get(request.match_info["id"])
        if attachment is None:
            return self._json({"error": "Record not found"}, 404)
        if attachment["polls_left"] > 0:
            attachment["polls_left"] -= 1
            if attachment["polls_left"] == 0:
                attachment["url"] = f"{self.base_url}/media/{attachment['id']}.png"
            else:
                return self._json(self._attachment(attachment), 206)
        return self._json(self._attachment(attachment))

    @staticmethod
    def _attachment(attachment: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attachment.items() if k not in ("bytes", "polls_left")}

    async def _lookup(self, request: web.Request) -> web.Response:
        acct = request.query.get("acct", "").removeprefix("@")
        self.lookups.append(acct)
        with self.lock:
            scripted = self._scripted_lookups.pop(0) if self._scripted_lookups else None
        if scripted == "429":
            return self._json({"error": "Too many requests"}, 429)
        if scripted == "500":
            return self._json({"error": "We're sorry, but something went wrong on our end."}, 500)
        account = self.lookup_accounts.get(acct.casefold())
        if account is None:
            return self._json({"error": "Record not found"}, 404)
        return self._json(account)

    async def _verify_credentials(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        return self._json({"id": ACCOUNT_ID, "username": USERNAME, "acct": USERNAME})

    async def _account_statuses(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._unauthorized()
        if request.match_info["id"] != ACCOUNT_ID:
            return self._json({"error": "Record not found"}, 404)
        limit = min(int(request.query.get("limit", "20")), 40)
        newest = [] if self.hide_statuses else list(reversed(self.statuses))[:limit]
        return self._json([self._public(s) for s in newest])
