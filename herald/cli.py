"""`herald`: the command line of Herald. Every failure a user can cause is one line, no trace."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import typer

from herald.commands import broker, events, feeds, ops, posts, preview, stack, staff
from herald.errors import describe, report

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns its exit code. Errors a user can cause go through one formatter
    (`herald.errors`), typer's and click's usage errors included (non-standalone mode hands them
    to us instead of printing rich panels)."""
    # Library log lines (aiokafka's "Unable connect to …") would reach stderr through logging's
    # last-resort handler; the CLI says what went wrong itself. Services run in their own
    # processes (`herald up`, `herald run`) with their own logging.
    logging.getLogger().addHandler(logging.NullHandler())
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = app(args=args, prog_name="herald", standalone_mode=False)
    except typer.Abort:  # a prompt ended (EOF, Ctrl-C)
        report("aborted")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if isinstance(exc, typer.TyperException) and type(exc).__name__ == "NoArgsIsHelpError":
            return exc.exit_code  # typer printed the help already (typer tells this error by name too)
        described = describe(exc)
        if described is None:
            raise  # a bug: its trace is what a report of it needs
        message, code = described
        report(message)
        return code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
