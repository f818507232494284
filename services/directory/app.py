"""The directory service, wired: commands in → decide → events, snapshot; `GET /staff` out,
`POST /staff/commands` (admin token) in.

State: a `DirectoryView` of everyone on every worker, fed by the compacted `herald.directory.staff`
snapshot and rebuilt from it on start. `herald.directory.commands` has one partition, so one worker
at a time decides every command, against its view, and no handle can be given to two people
(docs/adr/0013-directory-one-decider.md). After it is assigned the partition (at start, or taking
over from a worker that died), it first waits until its view has read the whole snapshot
(`SnapshotFollower.barrier`): then it knows every decision its predecessor made. The other workers
serve reads from their own view, and a caller can wait for its own write on any of them: the
`POST` can wait for the outcome (`?wait=`) and return the version; `GET /staff/{id}?min_version=`
waits until that worker's view holds it.

Order of effects for a change: the event, then the snapshot, each acknowledged by the broker
before the next, then the command's offset is committed. A crash in between redelivers the
command, which is decided again against the view: after the event only, the event may be
published twice (at-least-once, like every Kafka consumer) but no change is lost; after the
snapshot too, the decider's barrier reads the change back and the command changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from pydantic import ValidationError

from services.directory.access import Unauthorized, access_level
from services.directory.checks.wiring import install_rounds
from services.directory.decide import decide
from services.directory.outcomes import Outcomes, outcome_body
from services.directory.snapshot import write_snapshot
from services.directory.view import DirectoryView, public_record
from shared.compacted import SnapshotFollower
from shared.envelope import CloudEvent, utcnow
from shared.events import StaffCommand
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_SNAPSHOT

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
    decider = _Decider(runtime, view, follower)
    runtime.heartbeat_detail.update(people="0", deciding="no")

    @runtime.app.task
    async def follow_snapshot() -> None:
        await follower.run()

    @runtime.app.task
    async def follow_outcomes() -> None:
        await answers.run()

    runtime.app.on_partitions_assigned.connect(decider.on_assignment)
    runtime.app.on_partitions_revoked.connect(decider.on_revoke)

    @runtime.consumer(DIRECTORY_COMMANDS)
    async def handle_command(envelope: CloudEvent, command: StaffCommand) -> None:
        await decider.handle(command)

    _install_staff_pages(runtime, view, follower, outcomes, answers)
    install_rounds(runtime, view, follower)
    return runtime


class _Decider:
    """Decides each command against the view, once the view holds everything decided before."""

    def __init__(self, runtime: ServiceRuntime, view: DirectoryView, follower: SnapshotFollower) -> None:
        self.runtime = runtime
        self.view = view
        self.follower = follower
        self.commands_topic = runtime.settings.topic_namespace + DIRECTORY_COMMANDS.name
        self.behind = True  # until the view has read the snapshot since the last assignment

    async def on_assignment(self, app: Any, assigned: set[Any], **kwargs: Any) -> None:
        """A (re)assignment: another worker may have decided commands meanwhile."""
        self.behind = True
        deciding = any(tp.topic == self.commands_topic for tp in assigned)
        self.runtime.heartbeat_detail["deciding"] = "yes" if deciding else "no"

    async def on_revoke(self, *args: Any, **kwargs: Any) -> None:
        """Partitions go before they are handed out again: from here until the next assignment
        this worker decides nothing (so at most one worker says `deciding: yes`)."""
        self.behind = True
        self.runtime.heartbeat_detail["deciding"] = "no"

    async def handle(self, command: StaffCommand) -> None:
        if self.behind:
            await self.follower.barrier()
            self.behind = False
        view, runtime = self.view, self.runtime
        decision = decide(view.get(command.staff_id), command, now=utcnow(), handle_owners=view.handle_owners)
        if decision.event is None:
            log.info("%s %s: no change (request %s)", command.action, command.staff_id, command.request_id)
            return
        await runtime.publish(DIRECTORY_EVENTS, command.staff_id, decision.event)
        if not decision.changes_state:
            log.info(
                "rejected %s %s: %s", command.action, command.staff_id, getattr(decision.event, "reason", "")
            )
            return
        written = await write_snapshot(runtime, command.staff_id, decision.member)
        view.apply(command.staff_id, decision.member, partition=written.partition, offset=written.offset)
        runtime.heartbeat_detail["people"] = str(len(view))
        log.info("%s %s (request %s)", decision.event.event_type, command.staff_id, command.request_id)


#: The longest a request may wait for an outcome (`?wait=`) or a version (`?min_version=`).
MAX_WAIT_SECONDS = 30.0
#: How long `GET /staff/{id}?min_version=` waits without `?wait=`.
DEFAULT_READ_WAIT_SECONDS = 10.0


class BadQuery(ValueError):
    """A query parameter that is not what it should be; the message names it."""


def _query_number(
    request: Any, name: str, *, kind: type[float] | type[int], low: float, high: float | None = None
) -> Any:
    """The query parameter `name` as a `kind` within [low, high], None when absent, else
    `BadQuery` naming it and what it should be."""
    raw = request.query.get(name)
    if raw is None:
        return None
    wanted = "a whole number" if kind is int else "a number"
    rule = f"{name}: expected {wanted} from {low:g}" + (f" to {high:g}" if high is not None else " up")
    try:
        value = kind(raw)
    except ValueError:
        raise BadQuery(rule) from None
    if value != value or value < low or (high is not None and value > high):  # NaN, out of range
        raise BadQuery(rule)
    return value


def _install_staff_pages(
    runtime: ServiceRuntime,
    view: DirectoryView,
    follower: SnapshotFollower,
    outcomes: Outcomes,
    answers: SnapshotFollower,
) -> None:
    admin_token = runtime.settings.admin_token

    def check(web: Any, request: Any) -> tuple[bool, Any]:
        """For a read: (include private?, error response or None)."""
        if not follower.caught_up.is_set():
            return False, web.json({"error": "the directory is still loading; try again shortly"}, status=503)
        return authorise(web, request)

    def authorise(web: Any, request: Any) -> tuple[bool, Any]:
        """(admin?, error response or None)."""
        try:
            level = access_level(request.headers.get("Authorization"), admin_token)
        except Unauthorized as exc:
            return False, web.json({"error": exc.reason}, status=401, headers={"WWW-Authenticate": "Bearer"})
        return level == "admin", None

    @runtime.app.page("/staff")
    async def staff_list(web: Any, request: Any) -> Any:
        """Everyone sorted by name: what anyone may see, or (admin token) the full records."""
        admin, error = check(web, request)
        if error is not None:
            return error
        if admin:
            return web.json([m.model_dump(mode="json") for m in view.members()])
        return web.json(view.public())

    @runtime.app.page("/staff/commands")
    class StaffCommands(faust.web.View):
        """POST a `StaffCommand` as JSON (admin token only). Without `?wait=`: 202 with its
        request id; the outcome is on herald.directory.events, like every other source's. With
        `?wait=SECONDS` (up to 30): 200 with the outcome (`changed`/`erased` and the version, or
        `rejected` with the field and the reason) once it is decided, by whichever worker decides;
        still 202 if no outcome came in time, as for a command that changes nothing (an import's
        row as it is held), which has no outcome to wait for."""

        async def post(self, request: Any) -> Any:
            # Commands are queued, not decided here: they need no loaded view.
            admin, error = authorise(self, request)
            if error is not None:
                return error
            if not admin:
                return self.json({"error": "directory commands need the admin token"}, status=401)
            try:
                wait = _query_number(request, "wait", kind=float, low=0, high=MAX_WAIT_SECONDS)
                command = StaffCommand.model_validate_json(await request.read())
            except BadQuery as exc:
                return self.json({"error": str(exc)}, status=400)
            except ValidationError as exc:
                problem = exc.errors()[0]
                field = ".".join(str(part) for part in problem["loc"]) or "body"
                return self.json({"error": f"{field}: {problem['msg']}"}, status=400)
            queued = {"request_id": command.request_id}
            if not wait:
                await runtime.publish(DIRECTORY_COMMANDS, command.staff_id, command)
                return self.json(queued, status=202)
            await answers.caught_up.wait()  # positioned at the end: the outcome cannot pass unseen
            with outcomes.expect(command.request_id) as outcome:
                await runtime.publish(DIRECTORY_COMMANDS, command.staff_id, command)
                try:
                    decided = await asyncio.wait_for(asyncio.shield(outcome), wait)
                except TimeoutError:
                    return self.json(queued, status=202)
            return self.json(outcome_body(decided), status=200)

    @runtime.app.page("/staff/{staff_id}")
    async def staff_one(web: Any, request: Any, staff_id: str) -> Any:
        """One person; 404 without the token when nothing of them may be shown (a private account
        or an e-mail does not disclose that they exist).

        `?min_version=N` first waits (`?wait=` seconds, default 10, at most 30) until this
        worker's view holds version N of them
        or their erasure: the version a `POST ?wait=` returned, so a read after one's own write
        sees it on any worker; 503 if it did not come. Without the token the wait is for a record
        that may be shown, and a person with nothing to show is a 404 after the same wait as
        nobody, so neither the answer nor its timing tells a hidden person from nobody."""
        admin, error = check(web, request)
        if error is not None:
            return error
        try:
            min_version = _query_number(request, "min_version", kind=int, low=1)
            wait = _query_number(request, "wait", kind=float, low=0, high=MAX_WAIT_SECONDS)
        except BadQuery as exc:
            return web.json({"error": str(exc)}, status=400)

        def there() -> bool:
            if not view.has_reached(staff_id, min_version or 1):
                return False
            member = view.get(staff_id)
            return admin or (member is not None and public_record(member) is not None)

        timeout = DEFAULT_READ_WAIT_SECONDS if wait is None else wait
        late = min_version is not None and not await view.wait_for(there, timeout)
        member = view.get(staff_id)
        shown = (member.model_dump(mode="json") if admin else public_record(member)) if member else None
        if late and (admin or shown is not None):
            return web.json(
                {"error": f"version {min_version} of {staff_id!r} has not reached this worker; try again"},
                status=503,
            )
        if shown is None:
            return web.json({"error": f"no staff member {staff_id!r}"}, status=404)
        return web.json(shown)
