"""Rounds of platform checks: which accounts are due (`rules.due`), each checked by its platform's
checker, each conclusive result sent as a `record_check` command on herald.directory.commands, so
the directory decides it like any other change.

One worker runs them: the one holding partition 0 of herald.directory.commands (ADR 0014; the
`leading` the wiring passes in), so two workers never check the same account twice. A platform
that rate limits is left alone until its reset; an account whose result is on its way is not
checked again meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from services.directory.checks.rules import CheckResult, due
from shared.events import StaffCommand, StaffMember
from shared.settings import HeraldSettings, SettingsError

log = logging.getLogger(__name__)

REQUESTED_BY = "directory-checks"
#: A result not seen applied after this long is given up on (the command was lost): check again.
PENDING_SECONDS = 600.0


class Checker(Protocol):
    platform: str

    async def check(self, handle: str, now: datetime) -> CheckResult: ...

    async def close(self) -> None: ...


def checkers_from(settings: HeraldSettings) -> dict[str, Checker]:
    """The checkers HERALD_DIRECTORY_CHECKS asks for; X without its four credentials is an error."""
    d = settings.directory
    inactive_after = timedelta(days=d.directory_inactive_after_days)
    found: dict[str, Checker] = {}
    for platform in d.directory_checks:
        if platform == "x":
            from services.directory.checks.x import XChecker

            if d.x_credentials is None:
                raise SettingsError(
                    "HERALD_DIRECTORY_CHECKS names x, but HERALD_DIRECTORY_X_* are not all set"
                )
            found["x"] = XChecker(
                d.x_credentials,
                base_url=d.directory_x_api_base_url,
                ca_bundle=d.directory_x_ca_bundle,
                inactive_after=inactive_after,
            )
        elif platform == "mastodon":
            from services.directory.checks.mastodon import MastodonChecker

            found["mastodon"] = MastodonChecker(
                base_url=d.directory_mastodon_base_url,
                inactive_after=inactive_after,
                allow_private_networks=settings.allow_private_networks,
            )
        elif platform == "bluesky":
            from services.directory.checks.bluesky import BlueskyChecker

            found["bluesky"] = BlueskyChecker(
                base_url=d.directory_bluesky_base_url,
                plc_url=d.directory_plc_url,
                allow_private_networks=settings.allow_private_networks,
            )
    return found


class CheckRunner:
    def __init__(
        self,
        checkers: dict[str, Checker],
        *,
        members: Callable[[], list[StaffMember]],
        send: Callable[[StaffCommand], Awaitable[None]],
        recheck_after: timedelta,
        per_round: int,
        clock: Callable[[], datetime],
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.checkers = checkers
        self._members = members
        self._send = send
        self._recheck_after = recheck_after
        self._per_round = per_round
        self._clock = clock
        self._wall = wall
        self.pending: dict[str, float] = {}  # account id → when its result was sent
        self.paused: dict[str, float] = {}  # platform → epoch seconds it may be asked again
        self.counts: dict[str, int] = {}

    async def round(self, leading: Callable[[], bool] = lambda: True) -> int:
        """Check what is due now; the number of results sent. Stops early if this worker no
        longer `leading` (another took the commands partition over)."""
        now, wall = self._clock(), self._wall()
        self.pending = {a: t for a, t in self.pending.items() if wall - t < PENDING_SECONDS}
        self.paused = {p: t for p, t in self.paused.items() if t > wall}
        sent = 0
        platforms = [p for p in self.checkers if p not in self.paused]
        for item in due(
            self._members(),
            now,
            platforms=platforms,
            recheck_after=self._recheck_after,
            limit=self._per_round,
            skip=self.pending,
        ):
            if not leading():
                break
            platform = item.account.platform
            if platform in self.paused:
                continue
            result = await self.checkers[platform].check(item.account.handle, now)
            self.counts[result.outcome or "inconclusive"] = (
                self.counts.get(result.outcome or "inconclusive", 0) + 1
            )
            if not result.conclusive:
                log.warning("check of %s (%s): %s", item.account.account_id, platform, result.detail)
                if result.retry_at is not None:
                    self.paused[platform] = result.retry_at
                continue
            await self._send(_command(item.staff_id, item.account.account_id, result, now))
            self.pending[item.account.account_id] = wall
            sent += 1
        return sent

    async def close(self) -> None:
        for checker in self.checkers.values():
            await checker.close()


def _command(staff_id: str, account_id: str, result: CheckResult, now: datetime) -> StaffCommand:
    return StaffCommand(
        request_id="check-" + uuid.uuid5(uuid.NAMESPACE_URL, f"{account_id}/{now.isoformat()}").hex[:16],
        action="record_check",
        staff_id=staff_id,
        account_id=account_id,
        check_outcome=result.outcome,
        checked_at=now,
        last_post_at=result.last_post_at,
        requested_by=REQUESTED_BY,
    )


async def run_rounds(
    round_: Callable[[], Awaitable[object]],
    *,
    ready: asyncio.Event,
    leading: Callable[[], bool],
    interval: float,
) -> None:
    """Every `interval` seconds, once the view is loaded, run a round if this worker leads. A round
    that fails is logged and the next one runs as usual."""
    await ready.wait()
    while True:
        if leading():
            try:
                await round_()
            except Exception:  # a bug in one round must not stop the rounds for good
                log.exception("directory round failed")
        await asyncio.sleep(interval)
