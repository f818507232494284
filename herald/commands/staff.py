"""`herald staff …`: the staff social-media directory.

Changes are commands: the directory service validates them and answers with a StaffChanged,
StaffErased or StaffAccountChangeRejected event, which `--wait` (the default) waits for and prints.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.staff_file import plan_import, read_staff_file
from herald.topic_reader import read_to_end
from services.directory.checks.review import review
from services.directory.decide import decide
from shared.envelope import EventDecodeError, decode, utcnow
from shared.events import StaffCommand, StaffMember
from shared.events.directory import PLATFORMS, AccountSpec
from shared.producer import EventProducer
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_SNAPSHOT

app = typer.Typer(help="Staff social-media accounts.", no_args_is_help=True)
console = Console()
CLI_SOURCE = "/herald/cli"


def _send(requests: list[StaffCommand], *, wait: float, answered: set[str] | None = None) -> None:
    """Send the commands; wait for the answers to those in `answered` (default: all). A command
    that changes nothing gets no answer, so an import waits only for those it expects to change."""
    expected = {r.request_id for r in requests} if answered is None else answered
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=True)

    async def go() -> list[str]:
        await context.prepare_topics(bootstrap, config)
        outcomes: list[str] = []
        listener = _OutcomeListener(bootstrap, config.topic_namespace) if wait else None
        if listener:
            await listener.start()
        try:
            async with EventProducer(
                bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace
            ) as producer:
                for request in requests:
                    await producer.send(DIRECTORY_COMMANDS, request.staff_id, request)
            if listener and expected:
                outcomes = await listener.outcomes(expected, timeout=wait)
        finally:
            if listener:
                await listener.stop()
        return outcomes

    if not requests:
        return
    outcomes = asyncio.run(go())
    for line in outcomes:
        console.print(line)
    if wait and len(outcomes) < len(expected):
        console.print(
            f"[yellow]{len(expected) - len(outcomes)} request(s) sent but not yet answered by the directory "
            "service (is it running? `herald up`)[/]"
        )


class _OutcomeListener:
    """Reads directory events from the end, to report what became of our requests."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            namespace + DIRECTORY_EVENTS.name,
            bootstrap_servers=bootstrap,
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )

    async def start(self) -> None:
        await context.start_consumer(self._consumer, self._bootstrap)
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():  # pin the end now, before our requests go out
            await self._consumer.position(tp)

    async def stop(self) -> None:
        await self._consumer.stop()

    async def outcomes(self, request_ids: set[str], *, timeout: float) -> list[str]:
        lines: list[str] = []
        answered: set[str] = set()
        deadline = time.monotonic() + timeout
        while answered != request_ids and time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    try:
                        envelope, payload = decode(record.value, DIRECTORY_EVENTS.accepts)
                    except EventDecodeError:
                        continue
                    request_id = getattr(payload, "request_id", None)
                    if request_id in request_ids:
                        answered.add(request_id)
                        lines.append(_describe(envelope.type, payload))
        return lines


def _describe(event_type: str, payload: object) -> str:
    data = payload.model_dump() if hasattr(payload, "model_dump") else {}
    if event_type.endswith("rejected.v1"):
        field = f"{data['field']}: " if data.get("field") else ""
        return f"[red]rejected[/] {data['staff_id']}: {field}{data['reason']}"
    if event_type.endswith("erased.v1"):
        return f"[green]erased[/] {data['staff_id']}"
    changed = ", ".join(data.get("changed", [])) or "—"
    verb = "added" if data.get("before") is None else data["action"].replace("_", " ")
    return f"[green]{verb}[/] {data['staff_id']} v{data['version']}: {changed}"


def _request(action: str, staff_id: str, **fields: object) -> StaffCommand:
    """The command, or a one-line refusal naming the field the model rejects."""
    try:
        return StaffCommand(
            request_id=str(uuid.uuid4()), action=action, staff_id=staff_id, requested_by=_user(), **fields
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        field = " ".join(str(part) for part in error["loc"]).replace("_", " ")
        raise UserError(f"{field}: {error['msg']}") from None


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _platform(value: str) -> str:
    value = {"twitter": "x"}.get(value, value)
    if value not in PLATFORMS:
        raise UserError(f"unknown platform {value!r} (one of: {', '.join(PLATFORMS)})")
    return value


WAIT = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the directory's answer (0: don't).")
VERSION = typer.Option(None, "--expect-version", help="Refuse unless the record is at this version.")
STAFF = typer.Argument(..., help="Staff id (see `herald staff list`).")
ACCOUNT = typer.Argument(..., help="Account id (see `herald staff list`).")


@app.command()
def add(
    name: str = typer.Option(..., "--name", help="The person's name."),
    role: str = typer.Option("", "--role"),
    department: str = typer.Option("", "--department"),
    email: str = typer.Option(None, "--email", help="Work e-mail (never shown publicly)."),
    forum: bool = typer.Option(False, "--forum-member"),
    platform: str = typer.Option("x", "--platform"),
    handle: str = typer.Option(None, "--handle", help="An account: handle or profile URL."),
    private: bool = typer.Option(False, "--private", help="That account is private."),
    status: str = typer.Option(
        "active", "--status", help="That account's status (an admin's add is reviewed)."
    ),
    staff_id: str = typer.Option(None, "--id", help="Staff id (default: a new random one)."),
    wait: float = WAIT,
) -> None:
    """Add a staff member (and, with --handle, one account)."""
    accounts = ()
    if handle is not None:
        visibility = "private" if private else "public"
        try:
            accounts = (
                AccountSpec(
                    platform=_platform(platform), handle=handle, visibility=visibility, status=status
                ),
            )  # type: ignore[arg-type]
        except ValidationError as exc:
            error = exc.errors()[0]
            raise UserError(f"{' '.join(str(part) for part in error['loc'])}: {error['msg']}") from None
    request = _request(
        "add_staff",
        staff_id or "staff-" + uuid.uuid4().hex[:12],
        name=name,
        role=role,
        department=department,
        email=email,
        forum_member=forum,
        accounts=accounts,
    )
    _send([request], wait=wait)


@app.command()
def update(
    staff_id: str = STAFF,
    name: str = typer.Option(None, "--name"),
    role: str = typer.Option(None, "--role"),
    department: str = typer.Option(None, "--department"),
    email: str = typer.Option(None, "--email"),
    forum: bool = typer.Option(None, "--forum-member/--not-forum-member"),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Change a staff member's details."""
    fields = {"name": name, "role": role, "department": department, "email": email, "forum_member": forum}
    if all(value is None for value in fields.values()):
        raise UserError("nothing to update: give --name, --role, --department, --email or --forum-member")
    _send([_request("update_staff", staff_id, expected_version=expect, **fields)], wait=wait)


@app.command("add-account")
def add_account(
    staff_id: str = STAFF,
    platform: str = typer.Option(..., "--platform"),
    handle: str = typer.Option(..., "--handle", help="Handle or profile URL."),
    private: bool = typer.Option(False, "--private"),
    status: str = typer.Option("active", "--status", help="under_review, active, inactive or archived."),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Add an account to a staff member."""
    visibility = "private" if private else "public"
    command = _request(
        "add_account",
        staff_id,
        platform=_platform(platform),
        handle=handle,
        visibility=visibility,
        status=status,
        expected_version=expect,
    )
    _send([command], wait=wait)


@app.command("change-account")
def change_account(
    staff_id: str = STAFF,
    account_id: str = ACCOUNT,
    handle: str = typer.Option(None, "--handle"),
    status: str = typer.Option(None, "--status", help="under_review, active, inactive or archived."),
    verified: bool = typer.Option(None, "--verified/--unverified"),
    private: bool = typer.Option(None, "--private/--public"),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Change one account (handle, status, verified, visibility)."""
    visibility = None if private is None else ("private" if private else "public")
    fields = {"handle": handle, "status": status, "verified": verified, "visibility": visibility}
    if all(value is None for value in fields.values()):
        raise UserError("nothing to change: give --handle, --status, --verified or --private/--public")
    command = _request("change_account", staff_id, account_id=account_id, expected_version=expect, **fields)
    _send([command], wait=wait)


def _account_command(action: str, help_text: str, **extra: object) -> None:
    def run(
        staff_id: str = STAFF, account_id: str = ACCOUNT, expect: int = VERSION, wait: float = WAIT
    ) -> None:
        command = _request(action, staff_id, account_id=account_id, expected_version=expect, **extra)
        _send([command], wait=wait)

    run.__doc__ = help_text
    app.command(action.replace("_", "-"))(run)


_account_command("remove_account", "Remove one account from a staff member.")


@app.command("change-handle")
def change_handle(
    staff_id: str = STAFF,
    account_id: str = ACCOUNT,
    handle: str = typer.Argument(..., help="The new handle or profile URL."),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Give an account its new handle (the account keeps its id)."""
    command = _request(
        "change_handle", staff_id, account_id=account_id, handle=handle, expected_version=expect
    )
    _send([command], wait=wait)


@app.command("set-visibility")
def set_visibility(
    staff_id: str = STAFF,
    account_id: str = ACCOUNT,
    visibility: str = typer.Argument(..., help="public or private."),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Make an account public or private."""
    command = _request(
        "set_visibility", staff_id, account_id=account_id, visibility=visibility, expected_version=expect
    )
    _send([command], wait=wait)


@app.command()
def deactivate(
    staff_id: str = STAFF,
    account_id: str = typer.Option(None, "--account", help="One account (default: all of them)."),
    expect: int = VERSION,
    wait: float = WAIT,
) -> None:
    """Mark an account (or all of a person's) inactive."""
    _send([_request("deactivate", staff_id, account_id=account_id, expected_version=expect)], wait=wait)


@app.command()
def leave(staff_id: str = STAFF, expect: int = VERSION, wait: float = WAIT) -> None:
    """The person left the council: archive every account (the record stays until erased)."""
    _send([_request("leave", staff_id, expected_version=expect)], wait=wait)


@app.command()
def erase(
    staff_id: str = STAFF,
    yes: bool = typer.Option(False, "--yes", help="Confirm: this cannot be undone."),
    wait: float = WAIT,
) -> None:
    """Erase a person: their record is tombstoned everywhere it is kept."""
    if not yes:
        raise UserError(f"erasing {staff_id} cannot be undone: add --yes")
    _send([_request("erase", staff_id)], wait=wait)


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., help="Staff list: YAML (like examples/staff.yaml) or CSV."),
    wait: float = typer.Option(30.0, "--wait", min=0),
) -> None:
    """Add or update every person in the file; importing the same file again changes nothing."""
    rows = read_staff_file(path)
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=True)
    existing = asyncio.run(_read_directory(bootstrap, config.topic_namespace))
    requests = plan_import(rows, existing.values(), requested_by=f"import:{path.name}")
    # All are sent (the directory decides); the ones that would change nothing get no answer.
    now = utcnow()
    changing = {
        r.request_id for r in requests if decide(existing.get(r.staff_id), r, now=now).event is not None
    }
    _send(requests, wait=wait, answered=changing)
    unchanged = len(requests) - len(changing)
    console.print(f"{len(requests)} people ({unchanged} unchanged), {len(rows)} rows in {path.name}")


async def _read_directory(bootstrap: str, namespace: str) -> dict[str, StaffMember]:
    members: dict[str, StaffMember] = {}
    async for record in read_to_end(bootstrap, DIRECTORY_SNAPSHOT, namespace=namespace):
        key = (record.key or b"").decode()
        if record.value is None:
            members.pop(key, None)
            continue
        try:
            _, member = decode(record.value, DIRECTORY_SNAPSHOT.accepts)
        except EventDecodeError:
            continue
        members[key] = member  # type: ignore[assignment]
    return members


@app.command("list")
def list_staff(as_json: bool = typer.Option(False, "--json")) -> None:
    """The directory as it is now (private accounts and e-mails included: the admin's view)."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    members = asyncio.run(_read_directory(bootstrap, config.topic_namespace))
    if as_json:
        for member in members.values():
            print(member.model_dump_json())
        return
    table = Table("staff id", "v", "name", "role", "e-mail", "accounts", title=f"{len(members)} people")
    for member in sorted(members.values(), key=lambda m: m.name):
        accounts = "\n".join(
            f"{a.account_id} {a.platform} {a.handle} {a.status}"
            + (" (private)" if a.visibility == "private" else "")
            for a in member.accounts
        )
        table.add_row(
            member.staff_id, str(member.version), member.name, member.role, member.email or "", accounts
        )
    console.print(table)


@app.command("review")
def review_staff(
    unchecked_days: float = typer.Option(
        None,
        "--unchecked-days",
        min=1,
        help="Flag accounts not checked for this long (default: the setting).",
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object a line."),
) -> None:
    """Accounts to review: unchecked for six months, or found missing, inactive or elsewhere
    (handles included: the admin's view)."""
    config = context.settings()
    days = unchecked_days or config.directory.directory_review_unchecked_days
    bootstrap, _ = context.bootstrap(config, start=False)
    members = asyncio.run(_read_directory(bootstrap, config.topic_namespace))
    rows = review(members.values(), utcnow(), unchecked_after=timedelta(days=days))
    if as_json:
        for row in rows:
            print(json.dumps(dataclasses.asdict(row), default=str))
        return
    table = Table(
        "reason",
        "name",
        "staff id",
        "account",
        "platform",
        "handle",
        "last checked",
        "newest post",
        title=f"{len(rows)} account(s) to review (unchecked for {days:g} days, or found wrong)",
    )
    for row in rows:
        table.add_row(
            row.reason,
            row.name,
            row.staff_id,
            row.account_id,
            row.platform,
            row.handle + (" (private)" if row.visibility == "private" else ""),
            f"{row.last_checked_at:%Y-%m-%d}" if row.last_checked_at else "never",
            f"{row.last_post_at:%Y-%m-%d}" if row.last_post_at else "—",
        )
    console.print(table)
