"""The one kind of error the CLI shows a person: a single line, no stack trace."""


class UserError(Exception):
    """Something the user can act on (bad argument, broker down, unreachable URL)."""
