"""The X List "Council staff on X" kept in step with the directory's public active X accounts.

Each round reads the List's members from X (`GET /2/lists/:id/members`), compares them with what
the directory wants (`desired`: public, active accounts of people still here; never a private
one) and makes the difference (`plan`) with tweepy's `remove_list_member` / `add_list_member`.
Removals go first, so a private account leaves the List before anything else is done.

Rate limits, two ways, neither a failure: `ChangeBudget` keeps to X's 300 member changes per 15
minutes by waiting (a queue, not an error), and a 429 anyway waits until `x-rate-limit-reset`
and tries the same change again. Any other refusal of one change is logged and the rest go on; a
network failure ends the round (the next round starts from X's own view again).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from shared.events import StaffMember
from shared.x_api import LazyXClient, XCredentials

log = logging.getLogger(__name__)

#: X's page size for list members (1–100).
MEMBERS_PAGE = 100
#: Past the reset X names, so the first call after it is not refused by clock skew.
RESET_SLACK_SECONDS = 1.0


def desired(members: Iterable[StaffMember]) -> dict[str, str]:
    """casefolded username → username of every public, active X account of someone still here."""
    return {
        a.handle.casefold(): a.handle
        for m in members
        if m.status == "active"
        for a in m.accounts
        if a.platform == "x" and a.visibility == "public" and a.status == "active"
    }


@dataclass(frozen=True)
class Plan:
    remove: tuple[tuple[str, str], ...]  # (user id, username) on the List, not wanted
    add: tuple[str, ...]  # usernames wanted, not on the List

    def __len__(self) -> int:
        return len(self.remove) + len(self.add)


def plan(wanted: dict[str, str], actual: dict[str, str]) -> Plan:
    """From the wanted usernames and the List's members (user id → username)."""
    on_list = {name.casefold() for name in actual.values()}
    return Plan(
        remove=tuple(sorted((i, n) for i, n in actual.items() if n.casefold() not in wanted)),
        add=tuple(sorted(name for key, name in wanted.items() if key not in on_list)),
    )


class ChangeBudget:
    """At most `limit` changes in any `window` seconds (a sliding window; clock passed in)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._spent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more change is allowed (0: now)."""
        while self._spent and now - self._spent[0] >= self.window:
            self._spent.popleft()
        return 0.0 if len(self._spent) < self.limit else self._spent[0] + self.window - now

    def spend(self, now: float) -> None:
        self._spent.append(now)


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    waited_seconds: float = 0.0


class XListSync:
    def __init__(
        self,
        list_id: str,
        credentials: XCredentials,
        *,
        base_url: str,
        ca_bundle: Path | None,
        budget: ChangeBudget,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        timeout: float = 30.0,
    ) -> None:
        self.list_id = list_id
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._x = LazyXClient(credentials, base_url, ca_bundle, timeout=timeout)

    def client(self) -> AsyncClient:
        return self._x.get()

    async def sync(
        self, members: Iterable[StaffMember], leading: Callable[[], bool] = lambda: True
    ) -> SyncReport | None:
        """One round; None when X could not be reached (nothing is assumed about the List then).
        `leading` is asked before each change: a worker that lost the commands partition meanwhile stops, so
        the new owner's round never runs beside this one's."""
        report = SyncReport()
        log.info("X List %s: round starts", self.list_id)
        try:
            todo = plan(desired(members), await self.members())
            for user_id, username in todo.remove:
                if not leading():
                    return self._stopped(report)
                if await self._change(report, self.client().remove_list_member, user_id, username):
                    report.removed.append(username)
            for username in todo.add:
                if not leading():
                    return self._stopped(report)
                user_id = await self._user_id(report, username)
                if user_id is None:
                    report.not_found.append(username)
                elif await self._change(report, self.client().add_list_member, user_id, username):
                    report.added.append(username)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("X List %s: round ended: %s", self.list_id, type(exc).__name__)
            return None
        log.info(
            "X List %s: round ends: %d added, %d removed, %d not on X, %d refused, %.1fs waited for limits",
            self.list_id,
            len(report.added),
            len(report.removed),
            len(report.not_found),
            len(report.refused),
            report.waited_seconds,
        )
        return report

    def _stopped(self, report: SyncReport) -> SyncReport:
        log.info("X List %s: round stops: this worker no longer leads", self.list_id)
        return report

    async def members(self) -> dict[str, str]:
        """The List's members as X has them: user id → username (every page)."""
        found: dict[str, str] = {}
        token: str | None = None
        while True:
            params: dict[str, Any] = {"max_results": MEMBERS_PAGE, "user_auth": True}
            if token:
                params["pagination_token"] = token
            body = await self._call(
                None, lambda params=params: self.client().get_list_members(self.list_id, **params)
            )
            if body is None:
                raise ValueError("X refused to list the List's members")
            found.update({str(u["id"]): str(u["username"]) for u in body.get("data") or []})
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                return found

    async def _user_id(self, report: SyncReport, username: str) -> str | None:
        body = await self._call(report, lambda: self.client().get_user(username=username, user_auth=True))
        user = (body or {}).get("data") or {}
        return str(user["id"]) if user.get("id") else None

    async def _change(
        self, report: SyncReport, method: Callable[..., Awaitable[Any]], user_id: str, username: str
    ) -> bool:
        """One member change, after the budget allows it; False if X refused it."""
        while (pause := self.budget.wait(self._clock())) > 0:
            report.waited_seconds += pause
            await self._sleep(pause)
        self.budget.spend(self._clock())
        done = await self._call(report, lambda: method(self.list_id, user_id, user_auth=True))
        if done is None:
            report.refused.append(username)
        return done is not None

    async def _call(
        self, report: SyncReport | None, request: Callable[[], Awaitable[Any]]
    ) -> dict[str, Any] | None:
        """The call's JSON body; on a 429 wait for X's reset and call again; None if X refused it."""
        while True:
            try:
                response = await request()
                body = await response.json(content_type=None)
                return body if isinstance(body, dict) else {}
            except tweepy.TooManyRequests as exc:
                reset = float(exc.reset_time) if exc.reset_time else self._clock() + 60
                pause = max(0.0, reset - self._clock()) + RESET_SLACK_SECONDS
                log.info("X List %s: rate limited; waiting %.0fs for the reset", self.list_id, pause)
                if report is not None:
                    report.waited_seconds += pause
                await self._sleep(pause)
            except tweepy.HTTPException as exc:
                log.warning("X List %s: X answered %s", self.list_id, getattr(exc.response, "status", "?"))
                return None

    async def close(self) -> None:
        await self._x.close()
