"""The directory service, wired: commands in → decide (with handle claims) → events, snapshot; the
HTTP API (`http_api.py`: reads, exports, `/verify`, the Atom feed, `POST /staff/commands`,
`/openapi.json`).

State: a `DirectoryView` of everyone on every worker, fed by the compacted `herald.directory.staff`
snapshot and rebuilt from it on start, and a `ClaimBook` of who holds each handle, fed by the
one-partition `herald.directory.handle-claims`. Workers split the people by partition of
`herald.directory.commands`: each decides its own people's commands (`decider.py`), claiming a new
handle on the claims log before giving it, so no handle goes to two people
(docs/adr/0014-directory-split-by-partition.md). Every worker answers reads for everyone from its
own view, and a caller can wait for its own write on any of them: the `POST` can wait for the
outcome (`?wait=`) and return the version; `GET /staff/{id}?min_version=` waits until that worker's
view holds it. The worker holding commands partition 0 also runs the rounds (checks, X List).
"""

from __future__ import annotations

import logging

from services.directory.checks.wiring import install_rounds
from services.directory.claims import ClaimBook
from services.directory.decider import Decider
from services.directory.http_api import install_http_api
from services.directory.outcomes import Outcomes
from services.directory.view import DirectoryView
from shared.compacted import SnapshotFollower
from shared.envelope import CloudEvent
from shared.events import StaffCommand
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_HANDLE_CLAIMS, DIRECTORY_SNAPSHOT

log = logging.getLogger(__name__)

SERVICE = "directory"


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    """Build the directory's faust app (nothing connects until the worker runs)."""
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers=bootstrap)
    view = DirectoryView()
    follower = SnapshotFollower(DIRECTORY_SNAPSHOT, view, bootstrap, namespace=settings.topic_namespace)
    outcomes = Outcomes()
    answers = SnapshotFollower(
        DIRECTORY_EVENTS, outcomes, bootstrap, namespace=settings.topic_namespace, from_end=True
    )
    book = ClaimBook()
    claims_log = SnapshotFollower(
        DIRECTORY_HANDLE_CLAIMS, book, bootstrap, namespace=settings.topic_namespace
    )
    decider = Decider(runtime, view, follower, book, claims_log)
    runtime.heartbeat_detail.update(people="0", deciding="no")

    @runtime.app.task
    async def follow_snapshot() -> None:
        await follower.run()

    @runtime.app.task
    async def follow_claims() -> None:
        await claims_log.run()

    @runtime.app.task
    async def follow_outcomes() -> None:
        await answers.run()

    runtime.app.on_partitions_assigned.connect(decider.on_assignment)
    runtime.app.on_partitions_revoked.connect(decider.on_revoke)

    @runtime.consumer(DIRECTORY_COMMANDS)
    async def handle_command(envelope: CloudEvent, command: StaffCommand) -> None:
        await decider.handle(command)

    install_http_api(runtime, view, follower, outcomes, answers)
    install_rounds(runtime, view, follower, leading=lambda: decider.leading)
    return runtime
