"""The directory's HTTP API on faust's aiohttp web server: reads for anyone (more with the admin
token), `POST /staff/commands` with the token, and the OpenAPI 3.1 document describing them
(`openapi.py`). Handlers only parse, authorise and serialise; what is answered is decided in
`queries.py` and `atom.py`.

A caller can wait for its own write on any worker (docs/adr/0014-directory-split-by-partition.md): the
`POST` can wait for the outcome (`?wait=`, answered by whichever worker decides, seen through
`outcomes.py`) and return the version; `GET /staff/{id}?min_version=` waits until this worker's
view holds it. Every wait is bounded by `HERALD_DIRECTORY_MAX_WAIT_SECONDS`.

Every error is RFC 9457 problem details: 401 for a wrong or malformed token (never quietly
public), 422 naming the field or query parameter at fault, 404, 503 while the view loads or when
the version waited for has not come. Each page is a `faust.web.View` with only the methods it
serves, so any other method is 405.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

import faust
from pydantic import ValidationError

from services.directory.access import Unauthorized, access_level
from services.directory.api_models import Accepted, FieldError, Problem
from services.directory.atom import CONTENT_TYPE as ATOM_TYPE
from services.directory.atom import changes_feed
from services.directory.openapi import PROBLEM, openapi_document
from services.directory.outcomes import Outcomes, outcome_body
from services.directory.queries import (
    QueryError,
    StaffQuery,
    VersionWait,
    admin_results,
    command_wait,
    export_csv,
    export_json,
    public_results,
    verify,
)
from services.directory.view import DirectoryView, public_record
from shared import __version__
from shared.compacted import SnapshotFollower
from shared.envelope import utcnow
from shared.events import StaffCommand
from shared.runtime import ServiceRuntime
from shared.topics import DIRECTORY_COMMANDS


class Refusal(Exception):
    """A request answered with problem details instead of a body."""

    def __init__(self, status: int, detail: str, errors: Iterable[FieldError] = ()) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)


def problem(web: Any, refusal: Refusal) -> Any:
    body = Problem(
        title=HTTPStatus(refusal.status).phrase,
        status=refusal.status,
        detail=refusal.detail,
        errors=refusal.errors,
    )
    headers = {"WWW-Authenticate": "Bearer"} if refusal.status == 401 else None
    return web.json(
        body.model_dump(mode="json"), status=refusal.status, content_type=PROBLEM, headers=headers
    )


def install_http_api(
    runtime: ServiceRuntime,
    view: DirectoryView,
    follower: SnapshotFollower,
    outcomes: Outcomes,
    answers: SnapshotFollower,
) -> None:
    """Add the directory's pages to the runtime's web server (after /health and /metrics).
    `follower` feeds `view` from the snapshot; `answers` feeds `outcomes` from the events."""
    admin_token = runtime.settings.admin_token
    longest = runtime.settings.directory.directory_max_wait_seconds
    document = openapi_document(__version__, longest_wait=longest)

    def is_admin(request: Any) -> bool:
        try:
            return access_level(request.headers.get("Authorization"), admin_token) == "admin"
        except Unauthorized as exc:
            raise Refusal(401, exc.reason) from None

    def reader(request: Any) -> bool:
        """For a read: admin? (401 for a wrong token, 503 until the view has loaded)."""
        admin = is_admin(request)
        if not follower.caught_up.is_set():
            raise Refusal(503, "the directory is still loading; try again shortly")
        return admin

    def results(request: Any, admin: bool) -> Any:
        query = _parse(StaffQuery.parse, request, {"q", "platform", "status"})
        return admin_results(view.members(), query) if admin else public_results(view.members(), query)

    class Page(faust.web.View):
        """A GET page: `answer` returns the response or raises `Refusal`."""

        async def get(self, request: Any, **match: Any) -> Any:
            try:
                return await self.answer(request, **match)
            except Refusal as refusal:
                return problem(self, refusal)

        async def answer(self, request: Any, **match: Any) -> Any:  # pragma: no cover - overridden
            raise NotImplementedError

    @runtime.app.page("/openapi.json")
    class OpenAPI(Page):
        async def answer(self, request: Any) -> Any:
            return self.json(document)

    @runtime.app.page("/staff")
    class StaffList(Page):
        async def answer(self, request: Any) -> Any:
            admin = reader(request)
            return self.json([record.model_dump(mode="json") for record in results(request, admin)])

    # Before /staff/{staff_id}: aiohttp matches routes in the order they were added.
    @runtime.app.page("/staff/export.csv")
    class ExportCsv(Page):
        async def answer(self, request: Any) -> Any:
            admin = reader(request)
            text = export_csv(results(request, admin), admin=admin)
            disposition = {"Content-Disposition": 'attachment; filename="staff.csv"'}
            return self.text(text, content_type="text/csv", headers=disposition)

    @runtime.app.page("/staff/export.json")
    class ExportJson(Page):
        async def answer(self, request: Any) -> Any:
            admin = reader(request)
            export = export_json(results(request, admin), admin=admin, now=utcnow())
            disposition = {"Content-Disposition": 'attachment; filename="staff.json"'}
            return self.json(export.model_dump(mode="json"), headers=disposition)

    @runtime.app.page("/staff/commands")
    class StaffCommands(faust.web.View):
        """POST a `StaffCommand` as JSON (admin token only). Without `?wait=`: 202 with its
        request id; the outcome is on herald.directory.events, like every other source's. With
        `?wait=SECONDS`: 200 with the outcome (`Decided`) once it is decided, by whichever worker
        decides; still 202 if none came in time, as for a command that changes nothing (an
        import's row as it is held), which has no outcome to wait for. Commands are queued, not
        decided here, so they need no loaded view."""

        async def post(self, request: Any) -> Any:
            try:
                if not is_admin(request):
                    raise Refusal(401, "directory commands need the admin token")
                wait = _parse(lambda params: command_wait(params, longest=longest), request, {"wait"})
                command = _command(await request.read())
            except Refusal as refusal:
                return problem(self, refusal)
            queued = self.json(Accepted(request_id=command.request_id).model_dump(), status=202)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            if not wait or not await _within(answers.caught_up.wait(), wait):
                await runtime.publish(DIRECTORY_COMMANDS, command.staff_id, command)
                return queued
            # The events follower is at their end: the outcome cannot pass unseen.
            with outcomes.expect(command.request_id) as outcome:
                await runtime.publish(DIRECTORY_COMMANDS, command.staff_id, command)
                if not await _within(asyncio.shield(outcome), deadline - loop.time()):
                    return queued
            return self.json(outcome_body(outcome.result()).model_dump(mode="json", exclude_none=True))

    @runtime.app.page("/staff/{staff_id}")
    class StaffOne(Page):
        """One person; 404 without the token when nothing of them may be shown (a private account
        or an e-mail does not disclose that they exist).

        `?min_version=N` first waits (`?wait=` seconds, default 10) until this worker's view
        holds version N of them or their erasure: the version a `POST ?wait=` returned, so a read
        after one's own write sees it on any worker; 503 if it did not come. Without the token
        the wait is for a record that may be shown, and a person with nothing to show is a 404
        after the same wait as nobody, so neither the answer nor its timing tells a hidden
        person from nobody."""

        async def answer(self, request: Any, staff_id: str) -> Any:
            admin = reader(request)
            wanted = _parse(
                lambda params: VersionWait.parse(params, longest=longest), request, {"min_version", "wait"}
            )

            def there() -> bool:
                if not view.has_reached(staff_id, wanted.min_version or 1):
                    return False
                member = view.get(staff_id)
                return admin or (member is not None and public_record(member) is not None)

            late = wanted.min_version is not None and not await view.wait_for(there, wanted.wait)
            member = view.get(staff_id)
            shown = (member.model_dump(mode="json") if admin else public_record(member)) if member else None
            if late and (admin or shown is not None):
                detail = (
                    f"version {wanted.min_version} of {staff_id!r} has not reached this worker; try again"
                )
                raise Refusal(503, detail)
            if shown is None:
                raise Refusal(404, "no such staff member")
            return self.json(shown)

    @runtime.app.page("/verify")
    class Verify(Page):
        async def answer(self, request: Any) -> Any:
            reader(request)
            records = {member.staff_id: member for member in view.members()}
            answer = _parse(
                lambda params: verify(params, view.handle_owners, records),
                request,
                {"platform", "handle", "url"},
            )
            return self.json(answer.model_dump(mode="json"))

    @runtime.app.page("/changes.atom")
    class Changes(Page):
        async def answer(self, request: Any) -> Any:
            reader(request)
            feed = changes_feed(view.members(), self_url=str(request.url), now=utcnow())
            return self.bytes(feed, content_type=ATOM_TYPE)


def _parse(parse: Any, request: Any, names: set[str]) -> Any:
    """Run a query parser on the request's parameters; a `QueryError`, a parameter the page does
    not take (a misspelt `?wiat=` would silently not wait) or one given more than once (which one
    would count?) is a 422 naming it."""
    try:
        for name in request.query:
            if name not in names:
                raise QueryError(name, f"not a parameter here; one of {', '.join(sorted(names))}")
            if len(request.query.getall(name)) > 1:
                raise QueryError(name, "given more than once")
        return parse({name: request.query.get(name) for name in request.query})
    except QueryError as exc:
        raise Refusal(422, str(exc), [FieldError(field=exc.field, message=exc.message)]) from None


async def _within(awaitable: Any, seconds: float) -> bool:
    """Await it for at most `seconds`: did it finish?"""
    try:
        await asyncio.wait_for(awaitable, max(seconds, 0))
    except TimeoutError:
        return False
    return True


def _command(body: bytes) -> StaffCommand:
    """The body as a command; a 422 naming every field at fault otherwise. Strict: the document
    says `forum_member` is a boolean, so `0.0` is refused, not read as false."""
    try:
        return StaffCommand.model_validate_json(body, strict=True)
    except ValidationError as exc:
        errors = [
            FieldError(field=".".join(str(part) for part in error["loc"]) or "body", message=error["msg"])
            for error in exc.errors(include_url=False)
        ]
        raise Refusal(422, "; ".join(f"{e.field}: {e.message}" for e in errors), errors) from None
