"""Chat webhooks: Slack (Block Kit), Mattermost, Google Chat, Microsoft Teams (a Workflows webhook
with an Adaptive Card) and Discord (embeds, `?wait=true`). None offers an idempotency key on an
incoming webhook, so none is `idempotent` (docs/adr/0009). Each `render_*` is pure: the alert
escaped for the platform's markup and cut to its documented limits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from services.notifier.adapters.http import HttpSender, host_label
from services.notifier.adapters.text import ZWSP, markdown_escape, no_mentions, slack_escape, truncate
from services.notifier.render import Alert

SLACK_MAX_BLOCKS = 50
SLACK_SECTION_TEXT = 3000
SLACK_HEADER_TEXT = 150
MATTERMOST_TEXT = 16383
GOOGLE_CHAT_TEXT = 4096
TEAMS_MAX_BYTES = 28 * 1024
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FOOTER = 2048
DISCORD_TOTAL = 6000


def render_slack(alert: Alert) -> dict[str, Any]:
    """A header block (plain text: nothing in it is markup), the body in mrkdwn sections of at
    most 3,000 characters, a context line; at most 50 blocks."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(alert.headline, SLACK_HEADER_TEXT)},
        }
    ]
    sections = _chunks(alert.text.rstrip("\n"), SLACK_SECTION_TEXT, slack_escape)[: SLACK_MAX_BLOCKS - 2]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in sections]
    context = slack_escape(f"{alert.severity} · {alert.event_type}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return {"text": truncate(slack_escape(alert.headline), SLACK_SECTION_TEXT), "blocks": blocks}


def render_mattermost(alert: Alert) -> dict[str, Any]:
    """Markdown text, escaped, with @-mentions broken; at most 16,383 characters."""
    text = f"**{_md(alert.headline)}**\n\n{_md(alert.text)}"
    return {"text": truncate(text, MATTERMOST_TEXT)}


def render_google_chat(alert: Alert) -> dict[str, Any]:
    """A text message; `<` (mentions, links) and the formatting marks are broken by a zero-width
    space, so titles stay text; at most 4,096 characters."""
    text = f"*{_google_chat(alert.headline)}*\n{_google_chat(alert.text)}"
    return {"text": truncate(text, GOOGLE_CHAT_TEXT)}


def render_teams(alert: Alert) -> dict[str, Any]:
    """A message with one Adaptive Card (1.4): the headline bold, the body; at most ~28 KB."""
    body = _md(alert.text)
    while True:
        card = {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {
                                "type": "TextBlock",
                                "text": truncate(_md(alert.headline), 1000),
                                "weight": "Bolder",
                                "size": "Medium",
                                "wrap": True,
                            },
                            {"type": "TextBlock", "text": body, "wrap": True},
                        ],
                    },
                }
            ],
        }
        size = len(json.dumps(card).encode())
        if size <= TEAMS_MAX_BYTES:
            return card
        body = truncate(body, max(1, len(body) - (size - TEAMS_MAX_BYTES) - 16))


def render_discord(alert: Alert) -> dict[str, Any]:
    """One embed (title ≤ 256, description ≤ 4,096, ≤ 6,000 characters in all); no mentions."""
    title = truncate(_md(alert.headline), DISCORD_TITLE)
    footer = truncate(alert.event_type, DISCORD_FOOTER)
    room = DISCORD_TOTAL - len(title) - len(footer)
    description = truncate(_md(alert.text), min(DISCORD_DESCRIPTION, room))
    embed: dict[str, Any] = {"title": title, "description": description, "footer": {"text": footer}}
    if alert.occurred_at:
        embed["timestamp"] = alert.occurred_at
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


class ChatAdapter:
    """POST a rendered alert to a chat platform's incoming webhook."""

    idempotent = False

    def __init__(
        self,
        name: str,
        kind: str,
        url: SecretStr,
        *,
        internal: bool,
        timeout: float,
        render: Callable[[Alert], dict[str, Any]],
        query: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.internal = internal
        self._url = url
        self._render = render
        self._query = query or {}
        self._http = HttpSender(f"{kind} {host_label(url.get_secret_value())}", timeout)

    async def send(self, alert: Alert, alert_id: str) -> None:
        await self._http.call(
            "POST",
            self._url.get_secret_value(),
            json=self._render(alert),
            params=self._query or None,
            headers={"User-Agent": "herald-notifier"},
        )

    async def close(self) -> None:
        await self._http.close()


RENDERERS: dict[str, Callable[[Alert], dict[str, Any]]] = {
    "slack": render_slack,
    "mattermost": render_mattermost,
    "google_chat": render_google_chat,
    "teams": render_teams,
    "discord": render_discord,
}
#: Discord answers 204 with no body unless asked to wait for the message to exist.
QUERIES: dict[str, dict[str, str]] = {"discord": {"wait": "true"}}


def _md(text: str) -> str:
    return no_mentions(markdown_escape(text))


def _google_chat(text: str) -> str:
    return "".join(c + ZWSP if c in "<*_~`" else c for c in text)


def _chunks(text: str, limit: int, escape: Callable[[str], str]) -> list[str]:
    """`text` escaped, in pieces of at most `limit` characters, never splitting an escape."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        escaped = escape(char)
        if size + len(escaped) > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(escaped)
        size += len(escaped)
    if current or not pieces:
        pieces.append("".join(current) or " ")
    return pieces
