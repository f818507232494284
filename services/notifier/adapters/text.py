"""Making alert texts safe for each markup: a title that looks like markup or a mention stays
text. Pure."""

from __future__ import annotations

import html

ZWSP = "\u200b"
_MARKDOWN_SPECIALS = set("\\`*_{}[]()#+-.!|<>~")


def truncate(text: str, limit: int) -> str:
    """At most `limit` characters, an ellipsis marking a cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truncate_bytes(text: str, limit: int) -> str:
    """At most `limit` UTF-8 bytes, cut on a character boundary, an ellipsis marking a cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - len("…".encode())].decode(errors="ignore") + "…"


def slack_escape(text: str) -> str:
    """Slack mrkdwn: only &, < and > are control characters (mentions need `<!here>`)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_escape(text: str) -> str:
    """CommonMark-style text: every punctuation mark that could start markup is backslashed."""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIALS else c for c in text)


def no_mentions(text: str) -> str:
    """Break `@name` so no platform turns it into a mention (a zero-width space after the @)."""
    return text.replace("@", "@" + ZWSP)


def html_escape(text: str) -> str:
    return html.escape(text, quote=True)


def html_paragraphs(text: str) -> str:
    """Plain text as escaped HTML, line breaks kept."""
    return "<br>\n".join(html_escape(line) for line in text.rstrip("\n").split("\n"))
