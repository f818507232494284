"""`herald staff add|update|remove|list|import`: the staff social-media directory.

Changes are requests: the directory service validates them and answers with an Added, Updated,
Removed or Rejected event, which `--wait` (the default) waits for and prints.
"""

from __future__ import annotations

import asyncio
import getpass
import time
import uuid
from pathlib import Path

import typer
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.staff_file import read_staff_file
from herald.topic_reader import read_to_end
from shared.envelope import EventDecodeError, decode
from shared.events import StaffAccount, StaffAccountChangeRequested
from shared.events.directory import Platform
from shared.ids import staff_id_for
from shared.producer import EventProducer
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_SNAPSHOT

app = typer.Typer(help="Staff social-media accounts.", no_args_is_help=True)
console = Console()
CLI_SOURCE = "/herald/cli"


def _send(requests: list[StaffAccountChangeRequested], *, wait: float) -> None:
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
            if listener:
                outcomes = await listener.outcomes({r.request_id for r in requests}, timeout=wait)
        finally:
            if listener:
                await listener.stop()
        return outcomes

    outcomes = asyncio.run(go())
    for line in outcomes:
        console.print(line)
    if wait and len(outcomes) < len(requests):
        console.print(
            f"[yellow]{len(requests) - len(outcomes)} request(s) sent but not yet answered by the directory "
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
    kind = event_type.split(".")[-2]
    if kind == "rejected":
        return f"[red]rejected[/] {payload.staff_id}: {payload.reason}"  # type: ignore[attr-defined]
    account = payload.account  # type: ignore[attr-defined]
    return f"[green]{kind}[/] {account.staff_id}: {account.name} @{account.handle}" + (
        " (private)" if account.private else ""
    )


def _request(action: str, staff_id: str, **fields: object) -> StaffAccountChangeRequested:
    """The request, or a one-line refusal naming the field the event's model rejects."""
    try:
        return StaffAccountChangeRequested(
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


WAIT = typer.Option(10.0, "--wait", min=0, help="Seconds to wait for the directory's answer (0: don't).")


@app.command()
def add(
    name: str = typer.Option(..., "--name", help="The person's name."),
    handle: str = typer.Option(..., "--handle", help="Their handle, with or without @."),
    role: str = typer.Option("", "--role"),
    platform: str = typer.Option("twitter", "--platform"),
    private: bool = typer.Option(False, "--private", help="A private (protected) account."),
    staff_id: str = typer.Option(None, "--id", help="Staff id (default: from the name)."),
    wait: float = WAIT,
) -> None:
    """Add a staff member's account."""
    try:
        staff_id = staff_id or staff_id_for(name)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    request = _request(
        "add", staff_id, name=name, handle=handle, role=role, platform=_platform(platform), private=private
    )
    _send([request], wait=wait)


def _platform(value: str) -> Platform:
    allowed = Platform.__args__  # type: ignore[attr-defined]
    if value not in allowed:
        raise UserError(f"unknown platform {value!r} (one of: {', '.join(allowed)})")
    return value  # type: ignore[return-value]


@app.command()
def update(
    staff_id: str = typer.Argument(..., help="Whose account (see `herald staff list`)."),
    name: str = typer.Option(None, "--name"),
    handle: str = typer.Option(None, "--handle"),
    role: str = typer.Option(None, "--role"),
    private: bool = typer.Option(None, "--private/--public"),
    wait: float = WAIT,
) -> None:
    """Change an account (e.g. a new handle)."""
    if all(value is None for value in (name, handle, role, private)):
        raise UserError("nothing to update: give --name, --handle, --role or --private/--public")
    _send([_request("update", staff_id, name=name, handle=handle, role=role, private=private)], wait=wait)


@app.command()
def remove(staff_id: str = typer.Argument(...), wait: float = WAIT) -> None:
    """Remove an account from the directory."""
    _send([_request("remove", staff_id)], wait=wait)


@app.command("import")
def import_file(
    path: Path = typer.Argument(..., help="YAML staff list (the format of examples/staff.yaml)."),
    wait: float = typer.Option(30.0, "--wait", min=0),
) -> None:
    """Add or update every account in the file; importing the same file again changes nothing."""
    requests = read_staff_file(path, requested_by=f"import:{path.name}")
    _send(requests, wait=wait)
    console.print(f"{len(requests)} accounts in {path.name}")


@app.command("list")
def list_staff(as_json: bool = typer.Option(False, "--json")) -> None:
    """The directory as it is now (private accounts included: this is the admin's view)."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)

    async def read() -> dict[str, StaffAccount]:
        accounts: dict[str, StaffAccount] = {}
        async for record in read_to_end(bootstrap, DIRECTORY_SNAPSHOT, namespace=config.topic_namespace):
            key = (record.key or b"").decode()
            if record.value is None:
                accounts.pop(key, None)
                continue
            try:
                _, account = decode(record.value, DIRECTORY_SNAPSHOT.accepts)
            except EventDecodeError:
                continue
            accounts[key] = account  # type: ignore[assignment]
        return accounts

    accounts = asyncio.run(read())
    if as_json:
        for account in accounts.values():
            print(account.model_dump_json())
        return
    table = Table(
        "staff id", "name", "role", "platform", "handle", "private", title=f"{len(accounts)} accounts"
    )
    for account in sorted(accounts.values(), key=lambda a: a.name):
        table.add_row(
            account.staff_id,
            account.name,
            account.role,
            account.platform,
            "@" + account.handle,
            "yes" if account.private else "",
        )
    console.print(table)
