"""`herald`: the command line of Herald. Every failure a user can cause is one line, no trace."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from herald.broker import BrokerError
from herald.commands import broker, events, feeds, ops, posts, preview, stack, staff
from herald.errors import UserError

app = typer.Typer(
    help="Herald: publish the council's news once, use it many times.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(broker.app, name="broker")
app.add_typer(feeds.app, name="feeds")
app.add_typer(staff.app, name="staff")
app.add_typer(events.app, name="events")
app.add_typer(ops.app, name="ops")
app.add_typer(posts.app, name="posts")
app.command()(preview.preview)
app.command()(stack.up)
app.command()(stack.run)


def main() -> None:
    try:
        app()
    except (UserError, BrokerError) as exc:
        Console(stderr=True).print(f"[red]herald: error:[/] {exc}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
