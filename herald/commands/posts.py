"""`herald posts list|approve|drop`: posts the publishing policy held, and a person's decision.

`list` rebuilds the state from `herald.posts` (every PostHeld/Approved/Dropped/Published/Failed);
`approve` and `drop` send a PostDecisionRequested command to `herald.publisher.commands`, which
the publisher acts on (approve: post now, past quiet hours and blackouts but never twice).
"""

from __future__ import annotations

import asyncio
import getpass
import json

import typer
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.topic_reader import read_to_end
from services.publisher.held import PostState, fold, held
from services.publisher.views import decision
from shared.envelope import EventDecodeError, EventPayload, decode
from shared.producer import EventProducer
from shared.topics import POSTS, PUBLISHER_COMMANDS

app = typer.Typer(help="Posts held by the publishing policy.", no_args_is_help=True)
console = Console()
CLI_SOURCE = "/herald/cli"


async def post_states(bootstrap: str, namespace: str) -> dict[tuple[str, str, str], PostState]:
    events: list[EventPayload] = []
    async for record in read_to_end(bootstrap, POSTS, namespace=namespace):
        try:
            _, payload = decode(record.value, POSTS.accepts)
        except EventDecodeError:
            continue
        events.append(payload)
    return fold(events)


@app.command("list")
def list_posts(
    show_all: bool = typer.Option(False, "--all", help="Every post's latest state, not only held ones."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line."),
) -> None:
    """Held posts (item, channel, rule, reason, text), oldest first."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    states = asyncio.run(post_states(bootstrap, config.topic_namespace))
    rows = sorted(states.values(), key=lambda s: s.at) if show_all else held(states)
    if as_json:
        for row in rows:
            print(json.dumps(row.to_json(), ensure_ascii=False))
        return
    table = Table(
        "item", "channel", "status", "rule", "reason", "release at", "text", title=f"{len(rows)} posts"
    )
    table.columns[6].overflow = "fold"
    for row in rows:
        table.add_row(
            row.item_id,
            f"{row.channel}:{row.account}",
            row.status,
            row.rule or "",
            row.reason,
            row.release_at or "",
            row.text,
        )
    console.print(table)


def _send(item_id: str, action: str, channel: str | None, text: str | None, reason: str) -> str:
    config = context.settings()
    try:
        command = decision(item_id, action, channel=channel, text=text, reason=reason, requested_by=_who())
    except ValueError as exc:
        raise UserError(str(exc)) from None
    bootstrap, _ = context.bootstrap(config, start=False)

    async def send() -> None:
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(PUBLISHER_COMMANDS, item_id, command)

    asyncio.run(send())
    return command.request_id


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


@app.command()
def approve(
    item_id: str = typer.Argument(..., help="The held item's id."),
    channel: str = typer.Option(None, "--channel", help="`kind:account` (default: every held one)."),
    text: str = typer.Option(None, "--text", help="Post this text instead of the held one."),
) -> None:
    """Approve a held post (optionally with new text): it goes out now, once."""
    if text is not None and not text.strip():
        raise UserError("--text must not be empty")
    request_id = _send(item_id, "approve", channel, text, "")
    console.print(f"approval of {item_id} {channel or '(all held)'} requested ({request_id})")


@app.command()
def drop(
    item_id: str = typer.Argument(..., help="The held item's id."),
    channel: str = typer.Option(None, "--channel", help="`kind:account` (default: every held one)."),
    reason: str = typer.Option("", "--reason", help="Why, for the record."),
) -> None:
    """Drop a held post: it will not go out."""
    request_id = _send(item_id, "drop", channel, None, reason)
    console.print(f"drop of {item_id} {channel or '(all held)'} requested ({request_id})")
