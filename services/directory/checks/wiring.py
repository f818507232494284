"""The directory's rounds, installed on its faust app: platform checks (when
HERALD_DIRECTORY_CHECKS names platforms) and the X List (when HERALD_DIRECTORY_X_LIST_ID is set).
Both run only in the worker holding partition 0 of herald.directory.commands (ADR 0014): `leading`
says whether this one does now. (faust's assignor records no active partitions for an
app without tables, so it cannot be asked.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from services.directory.checks.runner import CheckRunner, checkers_from, run_rounds
from services.directory.checks.x_list import ChangeBudget, XListSync
from services.directory.view import DirectoryView
from shared.compacted import SnapshotFollower
from shared.envelope import utcnow
from shared.events import StaffCommand
from shared.runtime import ServiceRuntime
from shared.settings import SettingsError
from shared.topics import DIRECTORY_COMMANDS


def install_rounds(
    runtime: ServiceRuntime, view: DirectoryView, follower: SnapshotFollower, leading: Callable[[], bool]
) -> None:
    settings = runtime.settings.directory

    checkers = checkers_from(runtime.settings)
    if checkers:

        async def send(command: StaffCommand) -> None:
            await runtime.publish(DIRECTORY_COMMANDS, command.staff_id, command)

        runner = CheckRunner(
            checkers,
            members=view.members,
            send=send,
            recheck_after=timedelta(days=settings.directory_recheck_days),
            per_round=settings.directory_checks_per_round,
            clock=utcnow,
        )
        runtime.heartbeat_detail["checked_platforms"] = ",".join(checkers)

        @runtime.app.task
        async def platform_checks() -> None:
            await run_rounds(
                lambda: runner.round(leading),
                ready=follower.caught_up,
                leading=leading,
                interval=settings.directory_check_interval_seconds,
            )

    if settings.directory_x_list_id:
        if settings.x_credentials is None:
            raise SettingsError("HERALD_DIRECTORY_X_LIST_ID is set, but HERALD_DIRECTORY_X_* are not all set")
        x_list = XListSync(
            settings.directory_x_list_id,
            settings.x_credentials,
            base_url=settings.directory_x_api_base_url,
            ca_bundle=settings.directory_x_ca_bundle,
            budget=ChangeBudget(
                settings.directory_x_list_changes_per_window, settings.directory_x_list_window_seconds
            ),
        )

        async def sync_list() -> None:
            await x_list.sync(view.members(), leading)

        @runtime.app.task
        async def x_list_sync() -> None:
            await run_rounds(
                sync_list,
                ready=follower.caught_up,
                leading=leading,
                interval=settings.directory_x_list_sync_interval_seconds,
            )
