"""The X API v2 routes the directory uses, served by `FakeXApi` (same TLS server, same OAuth 1.0a
check): user lookup `GET /2/users/by/username/:username` (user fields `protected`,
`most_recent_tweet_id`; an unknown or suspended user is 200 with a resource-not-found error, as X
answers), `GET /2/users/:id/tweets` for these users (`created_at`), and an X List's members:
`GET /2/lists/:id/members` (paginated), `POST /2/lists/:id/members`, `DELETE
/2/lists/:id/members/:user_id`.

Scripted answers have their own queue (`script`), apart from the post routes'. Member changes are
rate limited like X's: `limit_changes_after(n)` answers the (n+1)th change 429 with
`x-rate-limit-reset` `reset_in` seconds ahead, and every change before that reset 429 too, so a
client that does not wait for the reset is seen (`.change_429s` counts them).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

Check = Callable[[web.Request], tuple[dict[str, str], str | None]]
Answer = Callable[..., web.Response]
MEMBERS_PAGE = 2  # small, so the client's pagination is exercised


@dataclass
class FakeUser:
    id: str
    username: str
    protected: bool = False
    suspended: bool = False
    posts: list[datetime] = field(default_factory=list)  # created_at of each post, any order


class XDirectoryRoutes:
    """State and handlers; `FakeXApi.directory` is one, `install(app)` adds its routes."""

    def __init__(self, check_oauth: Check, answer: Answer) -> None:
        self._check_oauth = check_oauth
        self._answer = answer
        self.users: dict[str, FakeUser] = {}  # casefolded username → user
        self.lists: dict[str, list[str]] = {}  # list id → member user ids, in order added
        self.lookups: list[str] = []
        self.changes: list[tuple[str, str]] = []  # ("add"|"remove", user id), accepted ones
        self.change_429s = 0
        self.reset_in = 2
        self._changes_left: int | None = None
        self._limited_until = 0.0
        self._scripted: list[str] = []
        self._ids = itertools.count(3_000_000_001)
        self._lock = threading.Lock()

    # --- control ----------------------------------------------------------------------------
    def add_user(self, username: str, **fields: Any) -> FakeUser:
        user = FakeUser(id=str(next(self._ids)), username=username, **fields)
        self.users[username.casefold()] = user
        return user

    def by_id(self, user_id: str) -> FakeUser | None:
        return next((u for u in self.users.values() if u.id == user_id), None)

    def script(self, *answers: str) -> None:
        """The next lookup or members read answers so ("429" or "500"), in order."""
        with self._lock:
            self._scripted.extend(answers)

    def limit_changes_after(self, count: int) -> None:
        with self._lock:
            self._changes_left = count

    def member_names(self, list_id: str) -> set[str]:
        return {u.username for i in self.lists.get(list_id, []) if (u := self.by_id(i)) is not None}

    def install(self, app: web.Application) -> None:
        app.router.add_get("/2/users/by/username/{username}", self._guard(self._lookup))
        app.router.add_get("/2/lists/{list_id}/members", self._guard(self._members))
        app.router.add_post("/2/lists/{list_id}/members", self._guard(self._add_member, change=True))
        app.router.add_delete(
            "/2/lists/{list_id}/members/{user_id}", self._guard(self._remove_member, change=True)
        )

    # --- handlers ---------------------------------------------------------------------------
    def _guard(
        self,
        handler: Callable[[web.Request, dict[str, str]], Awaitable[web.Response]],
        *,
        change: bool = False,
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def guarded(request: web.Request) -> web.Response:
            oauth, problem = self._check_oauth(request)
            if problem:
                return self._answer(
                    None, oauth, 401, {"title": "Unauthorized", "detail": problem, "status": 401}
                )
            with self._lock:
                if change:
                    limited = self._change_limited()
                    scripted = "429" if limited else None
                else:
                    scripted = self._scripted.pop(0) if self._scripted else None
            if scripted is not None:
                return self._scripted_answer(scripted, oauth)
            return await handler(request, oauth)

        return guarded

    def _change_limited(self) -> bool:
        now = time.time()
        if now < self._limited_until:
            self.change_429s += 1
            return True
        if self._changes_left is not None:
            if self._changes_left == 0:
                self._changes_left = None
                self._limited_until = now + self.reset_in
                self.change_429s += 1
                return True
            self._changes_left -= 1
        return False

    def _scripted_answer(self, kind: str, oauth: dict[str, str]) -> web.Response:
        if kind == "429":
            headers = {
                "x-rate-limit-limit": "300",
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(int(max(self._limited_until, time.time() + self.reset_in)) + 1),
            }
            body = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
            return self._answer(None, oauth, 429, body, headers)
        if kind == "500":
            return self._answer(None, oauth, 500, {"title": "Internal Server Error", "status": 500})
        raise ValueError(f"unknown scripted answer {kind!r}")

    async def _lookup(self, request: web.Request, oauth: dict[str, str]) -> web.Response:
        username = request.match_info["username"]
        self.lookups.append(username)
        user = self.users.get(username.casefold())
        if user is None or user.suspended:
            detail = (
                f"User has been suspended: [{username}]."
                if user
                else f"Could not find user with username: [{username}]."
            )
            error = {
                "value": username,
                "detail": detail,
                "title": "Forbidden" if user else "Not Found Error",
                "resource_type": "user",
                "parameter": "username",
                "resource_id": username,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            return self._answer(None, oauth, 200, {"errors": [error]})
        data: dict[str, Any] = {"id": user.id, "name": user.username.title(), "username": user.username}
        fields = request.query.get("user.fields", "").split(",")
        if "protected" in fields:
            data["protected"] = user.protected
        if "most_recent_tweet_id" in fields and user.posts:
            data["most_recent_tweet_id"] = f"{user.id}{len(user.posts):04d}"
        return self._answer(None, oauth, 200, {"data": data})

    async def user_tweets(self, request: web.Request, oauth: dict[str, str], user: FakeUser) -> web.Response:
        """`GET /2/users/:id/tweets` for a directory user (FakeXApi routes it here)."""
        with self._lock:
            scripted = self._scripted.pop(0) if self._scripted else None
        if scripted is not None:
            return self._scripted_answer(scripted, oauth)
        if user.protected:
            return self._answer(None, oauth, 401, {"title": "Authorization Error", "status": 401})
        limit = int(request.query.get("max_results", "10"))
        newest = sorted(user.posts, reverse=True)[:limit]
        data = []
        for n, at in enumerate(newest):
            tweet: dict[str, Any] = {"id": f"{user.id}{n:04d}", "text": f"post {n}"}
            if "created_at" in request.query.get("tweet.fields", ""):
                tweet["created_at"] = (
                    at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
                )
            data.append(tweet)
        body: dict[str, Any] = {"meta": {"result_count": len(data)}}
        if data:
            body["data"] = data
        return self._answer(None, oauth, 200, body)

    async def _members(self, request: web.Request, oauth: dict[str, str]) -> web.Response:
        list_id = request.match_info["list_id"]
        if list_id not in self.lists:
            return self._answer(None, oauth, 404, {"title": "Not Found Error", "detail": "no such list"})
        members = self.lists[list_id]
        start = int(request.query.get("pagination_token") or 0)
        page = members[start : start + min(MEMBERS_PAGE, int(request.query.get("max_results", "100")))]
        data = [{"id": i, "username": u.username, "name": u.username} for i in page if (u := self.by_id(i))]
        meta: dict[str, Any] = {"result_count": len(data)}
        if start + len(page) < len(members):
            meta["next_token"] = str(start + len(page))
        return self._answer(None, oauth, 200, {"data": data, "meta": meta} if data else {"meta": meta})

    async def _add_member(self, request: web.Request, oauth: dict[str, str]) -> web.Response:
        list_id = request.match_info["list_id"]
        try:
            user_id = str((await request.json()).get("user_id", ""))
        except (json.JSONDecodeError, AttributeError):
            user_id = ""
        if list_id not in self.lists or self.by_id(user_id) is None:
            return self._answer(
                None, oauth, 400, {"title": "Invalid Request", "detail": "unknown list or user"}
            )
        if user_id not in self.lists[list_id]:
            self.lists[list_id].append(user_id)
            self.changes.append(("add", user_id))
        return self._answer(None, oauth, 200, {"data": {"is_member": True}}, self._headers())

    async def _remove_member(self, request: web.Request, oauth: dict[str, str]) -> web.Response:
        list_id, user_id = request.match_info["list_id"], request.match_info["user_id"]
        if list_id not in self.lists:
            return self._answer(None, oauth, 404, {"title": "Not Found Error", "detail": "no such list"})
        if user_id in self.lists[list_id]:
            self.lists[list_id].remove(user_id)
            self.changes.append(("remove", user_id))
        return self._answer(None, oauth, 200, {"data": {"is_member": False}}, self._headers())

    def _headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": "300",
            "x-rate-limit-remaining": str(max(0, 300 - len(self.changes))),
            "x-rate-limit-reset": str(int(time.time()) + 900),
        }
