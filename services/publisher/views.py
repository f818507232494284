"""The publisher's admin HTTP API, on its own port, for held posts (issue 4, point 3).

`Authorization: Bearer $HERALD_ADMIN_TOKEN` on every call (none configured → 403 for all):

- `GET /posts/held` → `{"held": [...]}` (this worker's partitions);
- `POST /posts/{item_id}/approve` with `{"channel": "x:corporate", "text": "edited"}` (both optional);
- `POST /posts/{item_id}/drop` with `{"channel": ..., "reason": ...}` (both optional).

Approve and drop do not act directly: they produce the same PostDecisionRequested command as the
CLI, to `herald.publisher.commands`, keyed by item id, so the worker owning the item's partition
acts on it (and the decision is on record). Answer: 202 with the request id.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import TYPE_CHECKING, Any

from faust import web

from shared.events import PostDecisionRequested
from shared.runtime import ServiceRuntime
from shared.topics import PUBLISHER_COMMANDS

if TYPE_CHECKING:
    from services.publisher.posting import Poster


def parse_target(channel: str | None) -> tuple[str, str]:
    """`kind:account` → (kind, account); missing or `*` → every held target of the item."""
    if not channel or channel == "*":
        return "*", "*"
    kind, _, account = channel.partition(":")
    if not kind or not account:
        raise ValueError(f"channel must be `kind:account`, got {channel!r}")
    return kind, account


def decision(
    item_id: str,
    action: str,
    *,
    channel: str | None,
    text: str | None = None,
    reason: str = "",
    requested_by: str,
) -> PostDecisionRequested:
    kind, account = parse_target(channel)
    return PostDecisionRequested(
        request_id=str(uuid.uuid4()),
        item_id=item_id,
        channel=kind,
        account=account,
        action=action,  # type: ignore[arg-type]
        text=text,
        reason=reason,
        requested_by=requested_by,
    )


def authorised(runtime: ServiceRuntime, header: str | None) -> bool:
    token = runtime.settings.admin_token
    if token is None or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), token.get_secret_value().encode())


def install_views(runtime: ServiceRuntime, poster: Poster) -> None:
    app = runtime.app

    def refused(view: web.View, request: web.Request) -> web.Response | None:
        if authorised(runtime, request.headers.get("Authorization")):
            return None
        return view.json({"error": "admin token required (Authorization: Bearer …)"}, status=403)

    async def body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if not raw:
            return {}
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the body must be a JSON object")
        return data

    async def command(view: web.View, request: web.Request, item_id: str, action: str) -> web.Response:
        denied = refused(view, request)
        if denied is not None:
            return denied
        try:
            data = await body(request)
            text = data.get("text")
            if text is not None and (not isinstance(text, str) or not text.strip()):
                raise ValueError("text must be a non-empty string")
            payload = decision(
                item_id,
                action,
                channel=data.get("channel"),
                text=text if action == "approve" else None,
                reason=str(data.get("reason") or ""),
                requested_by=str(data.get("by") or "admin-api"),
            )
        except ValueError as exc:
            return view.json({"error": str(exc)}, status=400)
        await runtime.publish(PUBLISHER_COMMANDS, item_id, payload)
        return view.json({"request_id": payload.request_id, "action": action, "item_id": item_id}, status=202)

    @app.page("/posts/held")
    class Held(web.View):
        async def get(self, request: web.Request) -> web.Response:
            denied = refused(self, request)
            if denied is not None:
                return denied
            return self.json({"held": poster.held()})

    @app.page("/posts/{item_id}/approve")
    class Approve(web.View):
        async def post(self, request: web.Request, item_id: str) -> web.Response:
            return await command(self, request, item_id, "approve")

    @app.page("/posts/{item_id}/drop")
    class Drop(web.View):
        async def post(self, request: web.Request, item_id: str) -> web.Response:
            return await command(self, request, item_id, "drop")
