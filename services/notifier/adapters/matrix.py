"""Matrix: the client-server API's `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`
with the alert id as the transaction id, so a repeated call is the same event (the homeserver
deduplicates per access token and txnId): `idempotent`. An `m.notice` (bots' messages), plain body
plus escaped HTML, the event at most 65,536 bytes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from services.notifier.adapters.http import HttpSender, host_label
from services.notifier.adapters.text import html_escape, html_paragraphs, truncate_bytes
from services.notifier.render import Alert

MATRIX_EVENT_BYTES = 65536
#: Room for what the homeserver adds around the content (ids, keys, signatures, unsigned).
MATRIX_ENVELOPE_BYTES = 2048


def render_matrix(alert: Alert) -> dict[str, Any]:
    budget = MATRIX_EVENT_BYTES - MATRIX_ENVELOPE_BYTES
    text = alert.text
    while True:
        content = {
            "msgtype": "m.notice",
            "body": f"{alert.headline}\n\n{text}",
            "format": "org.matrix.custom.html",
            "formatted_body": f"<strong>{html_escape(alert.headline)}</strong><br>\n{html_paragraphs(text)}",
        }
        size = len(json.dumps(content, ensure_ascii=False).encode())
        if size <= budget:
            return content
        text = truncate_bytes(text, max(1, len(text.encode()) - (size - budget) // 2 - 16))


def matrix_path(room: str, txn_id: str) -> str:
    return f"/_matrix/client/v3/rooms/{quote(room, safe='')}/send/m.room.message/{quote(txn_id, safe='')}"


class MatrixAdapter:
    kind = "matrix"
    idempotent = True

    def __init__(
        self, name: str, homeserver: str, room: str, token: SecretStr, *, internal: bool, timeout: float
    ) -> None:
        self.name = name
        self.internal = internal
        self._base = homeserver.rstrip("/")
        self._room = room
        self._token = token
        self._http = HttpSender(f"matrix {host_label(self._base)}", timeout)

    async def send(self, alert: Alert, alert_id: str) -> None:
        await self._http.call(
            "PUT",
            self._base + matrix_path(self._room, alert_id),
            json=render_matrix(alert),
            headers={
                "Authorization": f"Bearer {self._token.get_secret_value()}",
                "User-Agent": "herald-notifier",
            },
        )

    async def close(self) -> None:
        await self._http.close()
