"""How the CLI shows a person an error: one line on stderr, `herald: error: …`, no stack trace.

Plain writes, not rich: a console wraps to the terminal (or to 80 columns on a pipe), and a
script, cron or CI reading stderr must get the whole message on one line at any width.
"""

from __future__ import annotations

import sys
from typing import TextIO

import typer
from aiokafka.errors import KafkaError

from shared.kafka_admin import TopicSetupError
from shared.producer import ProducerError

PREFIX = "herald: error: "


class UserError(Exception):
    """Something the user can act on (bad argument, broker down, unreachable URL)."""


def one_line(message: str) -> str:
    """`message` with every run of whitespace (newlines included) made one space."""
    return " ".join(message.split())


def describe(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code for an error a user can cause, or None for a bug (which traces).

    Usage errors (bad argument, option or command) exit 2 as click's do; every other error 1.
    """
    if isinstance(exc, typer.TyperException):  # the (vendored) click errors: usage, bad parameter
        ctx = getattr(exc, "ctx", None)  # usage errors know their command
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        return exc.format_message() + hint, exc.exit_code
    if isinstance(exc, (UserError, ProducerError, TopicSetupError)):
        return str(exc), 1
    if isinstance(exc, KafkaError):  # one that no command turned into a UserError itself
        return f"Kafka: {exc}", 1
    if isinstance(exc, OSError):  # a file or socket the user named or set up
        return str(exc), 1
    return None


def report(message: str, stream: TextIO | None = None) -> None:
    """Write the one line (red prefix on a terminal only) and flush it."""
    stream = stream or sys.stderr
    prefix = f"\x1b[31m{PREFIX}\x1b[0m" if stream.isatty() else PREFIX
    stream.write(prefix + one_line(message) + "\n")
    stream.flush()
