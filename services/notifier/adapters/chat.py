"""Chat webhooks: Slack (Block Kit), Mattermost, Google Chat, Microsoft Teams (a Workflows webhook
with an Adaptive Card) and Discord (embeds, `?wait=true`). None offers an idempotency key on an
incoming webhook, so none is `idempotent` (docs/adr/0009). Each `render_*` is pure: the alert's
templates rendered in the platform's markup (`templating.py` escapes every value) and cut to its
documented limits.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr

from services.notifier.adapters import rendering
from services.notifier.adapters.http import HttpSender, host_label
from services.notifier.adapters.text import cut_markup, split_markup, truncate
from services.notifier.render import Alert
from services.notifier.templating import (
    DEFAULT_TEMPLATES,
    GOOGLE_CHAT,
    MARKDOWN,
    SLACK,
    TEAMS,
    Templates,
)

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

Render = Callable[[Alert, Templates], dict[str, Any]]


def _headline(alert: Alert, templates: Templates) -> str:
    return templates.headline(alert.kind, alert.facts, possible_repeat=alert.possible_repeat)


def render_slack(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """A header block (plain text: nothing in it is markup), the body in mrkdwn sections of at
    most 3,000 characters, a context line; at most 50 blocks."""
    headline = _headline(alert, templates)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(headline, SLACK_HEADER_TEXT)}}
    ]
    body = templates.body(SLACK, alert.kind, alert.facts)
    sections = split_markup(body, SLACK_SECTION_TEXT)[: SLACK_MAX_BLOCKS - 2]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in sections]
    context = templates.escape(SLACK, f"{alert.severity} · {alert.event_type}")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    fallback = cut_markup(templates.escape(SLACK, headline), SLACK_SECTION_TEXT)
    return {"text": fallback, "blocks": blocks}


def render_mattermost(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """Markdown text, escaped, with @-mentions broken; at most 16,383 characters."""
    headline = templates.escape(MARKDOWN, _headline(alert, templates))
    text = f"**{headline}**\n\n{templates.body(MARKDOWN, alert.kind, alert.facts)}"
    return {"text": cut_markup(text, MATTERMOST_TEXT)}


def render_google_chat(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """A text message; `<` (mentions, links) and the formatting marks of every value are broken by
    a zero-width space, so titles stay text; at most 4,096 characters."""
    headline = templates.escape(GOOGLE_CHAT, _headline(alert, templates))
    text = f"*{headline}*\n{templates.body(GOOGLE_CHAT, alert.kind, alert.facts)}"
    return {"text": cut_markup(text, GOOGLE_CHAT_TEXT)}


def render_teams(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """A message with one Adaptive Card (1.4): the headline bold, the body (its paragraphs blank-line
    separated, as TextBlock's Markdown wants); at most ~28 KB."""
    headline = cut_markup(templates.escape(TEAMS, _headline(alert, templates)), 1000)
    body = templates.body(TEAMS, alert.kind, alert.facts).replace("\n", "\n\n")
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
                                "text": headline,
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
        body = cut_markup(body, max(1, len(body) - (size - TEAMS_MAX_BYTES) - 16))


def render_discord(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """One embed (title ≤ 256, description ≤ 4,096, ≤ 6,000 characters in all); no mentions."""
    title = cut_markup(templates.escape(MARKDOWN, _headline(alert, templates)), DISCORD_TITLE)
    footer = truncate(alert.event_type, DISCORD_FOOTER)
    room = DISCORD_TOTAL - len(title) - len(footer)
    body = templates.body(MARKDOWN, alert.kind, alert.facts)
    description = cut_markup(body, min(DISCORD_DESCRIPTION, room))
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
        render: Render,
        query: dict[str, str] | None = None,
        templates: Templates = DEFAULT_TEMPLATES,
    ) -> None:
        self.name = name
        self.kind = kind
        self.internal = internal
        self._url = url
        self._render = render
        self.templates = templates
        self._query = query or {}
        self._http = HttpSender(f"{kind} {host_label(url.get_secret_value())}", timeout)

    async def send(self, alert: Alert, alert_id: str) -> None:
        with rendering(self.name):
            body = self._render(alert, self.templates)
        await self._http.call(
            "POST",
            self._url.get_secret_value(),
            json=body,
            params=self._query or None,
            headers={"User-Agent": "herald-notifier"},
        )

    async def close(self) -> None:
        await self._http.close()


RENDERERS: dict[str, Render] = {
    "slack": render_slack,
    "mattermost": render_mattermost,
    "google_chat": render_google_chat,
    "teams": render_teams,
    "discord": render_discord,
}
#: Discord answers 204 with no body unless asked to wait for the message to exist.
QUERIES: dict[str, dict[str, str]] = {"discord": {"wait": "true"}}
