"""The generic JSON webhook: the alert's texts and identity (never the event's `data`), signed.

Headers: `X-Herald-Timestamp` (Unix seconds), `X-Herald-Signature: sha256=<hex>` where the hex is
HMAC-SHA256 with the shared secret over `<timestamp>.` followed by the exact body bytes, and
`Idempotency-Key: <alert id>` (the same on every retry: receivers keep the ids they have seen, so
the target is `idempotent`). A receiver checks the signature with a constant-time compare and
refuses timestamps more than five minutes old (README.md, "Forum targets"). The bearer token of the old
webhook is still sent as `Authorization` when configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

from pydantic import SecretStr

from services.notifier.adapters import rendering
from services.notifier.adapters.http import HttpSender, host_label
from services.notifier.render import Alert
from services.notifier.templating import DEFAULT_TEMPLATES, TEXT, Templates


def render_webhook(alert: Alert, alert_id: str, templates: Templates = DEFAULT_TEMPLATES) -> bytes:
    """The alert's plain words (the `text` templates) and identity: the receiver does the markup."""
    body = {
        "alert_id": alert_id,
        "event_id": alert.event_id,
        "event_type": alert.event_type,
        "severity": alert.severity,
        "headline": templates.headline(alert.kind, alert.facts, possible_repeat=alert.possible_repeat),
        "text": templates.body(TEXT, alert.kind, alert.facts) + "\n",
        "occurred_at": alert.occurred_at,
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256(secret, timestamp + "." + body): what `X-Herald-Signature` holds."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookAdapter:
    kind = "webhook"
    idempotent = True

    def __init__(
        self,
        name: str,
        url: SecretStr,
        *,
        internal: bool,
        timeout: float,
        token: SecretStr | None = None,
        signing_secret: SecretStr | None = None,
        clock: Callable[[], float] = time.time,
        templates: Templates = DEFAULT_TEMPLATES,
    ) -> None:
        self.name = name
        self.templates = templates
        self.internal = internal
        self._url = url
        self._token = token
        self._secret = signing_secret
        self._clock = clock
        self._http = HttpSender(f"webhook {host_label(url.get_secret_value())}", timeout)

    async def send(self, alert: Alert, alert_id: str) -> None:
        with rendering(self.name):
            body = render_webhook(alert, alert_id, self.templates)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "herald-notifier",
            "Idempotency-Key": alert_id,
            "X-Herald-Timestamp": timestamp,
        }
        if self._secret is not None:
            headers["X-Herald-Signature"] = signature(self._secret.get_secret_value(), timestamp, body)
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        await self._http.call("POST", self._url.get_secret_value(), content=body, headers=headers)

    async def close(self) -> None:
        await self._http.close()
