"""Cutting rendered alerts to a platform's limits without breaking what the escaping made. Pure."""

from __future__ import annotations

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut (for text that is not yet escaped)."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def cut_markup(text: str, limit: int) -> str:
    """Rendered markup in at most `limit` characters, an ellipsis marking a cut, never inside an
    entity (`&lt;`), a tag or a Slack `<url|label>`, nor after a lone backslash escape."""
    if len(text) <= limit:
        return text
    return _safe_prefix(text[: limit - 1]) + ELLIPSIS


def cut_markup_bytes(text: str, limit: int) -> str:
    """`cut_markup` by UTF-8 bytes (Matrix's event limit)."""
    data = text.encode()
    if len(data) <= limit:
        return text
    head = data[: limit - len(ELLIPSIS.encode())].decode(errors="ignore")
    return _safe_prefix(head) + ELLIPSIS


def split_markup(text: str, limit: int) -> list[str]:
    """Rendered markup in pieces of at most `limit` characters, split at line ends where it can,
    else at a safe place (`cut_markup`'s rule); never an empty list."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            head = _safe_prefix(line[:limit]) or line[:limit]
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
            line = line[len(head) :]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            pieces.append(current)
            current = line
        else:
            current = joined
    pieces.append(current)
    return [piece for piece in pieces if piece.strip()] or [" "]


def _safe_prefix(head: str) -> str:
    """`head` less an unfinished entity, tag/link or trailing backslash at its end."""
    for opener, closer in (("&", ";"), ("<", ">")):
        at = head.rfind(opener)
        if at != -1 and head.find(closer, at) == -1:
            head = head[:at]
    while head.endswith("\\"):
        head = head[:-1]
    return head
