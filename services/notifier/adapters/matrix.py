"""Matrix: the client-server API's `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`
with the alert id as the transaction id, so a repeated call is the same event (the homeserver
deduplicates per access token and txnId): `idempotent`. An `m.notice` (bots' messages), plain body
plus autoescaped HTML from the templates, the event at most 65,536 bytes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from services.notifier.adapters import rendering
from services.notifier.adapters.http import HttpSender, host_label
from services.notifier.adapters.text import cut_markup_bytes
from services.notifier.render import Alert
from services.notifier.templating import DEFAULT_TEMPLATES, HTML, TEXT, Templates, no_broadcasts

MATRIX_EVENT_BYTES = 65536
#: Room for what the homeserver adds around the content (ids, keys, signatures, unsigned).
MATRIX_ENVELOPE_BYTES = 2048


def render_matrix(alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> dict[str, Any]:
    """`body` from the `text` templates (`@room` and the like broken: clients notify on it),
    `formatted_body` from the autoescaped `html` ones; both cut to fit."""
    headline = templates.headline(alert.kind, alert.facts, possible_repeat=alert.possible_repeat)
    budget = MATRIX_EVENT_BYTES - MATRIX_ENVELOPE_BYTES
    body = no_broadcasts(f"{headline}\n\n{templates.body(TEXT, alert.kind, alert.facts)}")
    strong = f"<strong>{templates.escape(HTML, headline)}</strong>"
    formatted = f"{strong}<br>\n{templates.body(HTML, alert.kind, alert.facts)}"
    while True:
        content = {
            "msgtype": "m.notice",
            "body": body,
            "format": "org.matrix.custom.html",
            "formatted_body": formatted,
        }
        size = len(json.dumps(content, ensure_ascii=False).encode())
        if size <= budget:
            return content
        excess = size - budget + 64
        body = cut_markup_bytes(body, max(1, len(body.encode()) - excess // 2 - 1))
        formatted = cut_markup_bytes(formatted, max(1, len(formatted.encode()) - excess // 2 - 1))


def matrix_path(room: str, txn_id: str) -> str:
    return f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/{quote(txn_id, safe='')}"


class MatrixAdapter:
    kind = "matrix"
    idempotent = True

    def __init__(
        self,
        name: str,
        homeserver: str,
        room: str,
        token: SecretStr,
        *,
        internal: bool,
        timeout: float,
        templates: Templates = DEFAULT_TEMPLATES,
    ) -> None:
        self.name = name
        self.templates = templates
        self.internal = internal
        self._base = homeserver.rstrip("/")
        self._room = room
        self._token = token
        self._http = HttpSender(f"matrix {host_label(self._base)}", timeout)

    async def send(self, alert: Alert, alert_id: str) -> None:
        with rendering(self.name):
            content = render_matrix(alert, self.templates)
        await self._http.call(
            "PUT",
            self._base + matrix_path(self._room, alert_id),
            json=content,
            headers={
                "Authorization": f"Bearer {self._token.get_secret_value()}",
                "User-Agent": "herald-notifier",
            },
        )

    async def close(self) -> None:
        await self._http.close()
