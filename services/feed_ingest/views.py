"""feed_ingest's HTTP endpoints (on its faust web port, beside /health and /metrics).

- `POST /ping` — a CMS says "I just published": `{"url": ...}` or `{"feed_id": ...}`, with
  `Authorization: Bearer <HERALD_PING_TOKEN or HERALD_ADMIN_TOKEN>`; 202 once the poll request
  is on Kafka (the feed's owner polls it at once).
- `GET /websub/<feed id>` — a hub verifying our intent (WebSub §5.3): the challenge is echoed only
  for a subscription Herald asked for (the token in the callback URL binds feed id and topic).
- `POST /websub/<feed id>` — content distribution (§7): the `X-Hub-Signature` HMAC is checked with
  the feed's secret; a bad or missing signature is refused with 403 (issue 5 asks for a refusal;
  the spec would answer 2xx and drop it), a good one becomes a "push" poll carrying the body.
- `GET /feeds/owned` — which feeds this worker owns and how often it polled each (ops, tests).
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import time
from typing import Any

from faust.web import Request, Response, View

from services.feed_ingest import websub
from services.feed_ingest.scheduler import Scheduler
from services.feed_ingest.state import PollReason, PollRequest, utcnow
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.settings import FeedIngestSettings
from shared.topics import FEED_POLLS

log = logging.getLogger(__name__)


async def request_poll(runtime: ServiceRuntime, feed_id: str, reason: PollReason, **extra: Any) -> None:
    """Ask the feed's owner (whichever worker) to act now: ping, push or a granted lease.

    Keyed by feed id with the default partitioner, like the herald.feeds record, so it lands on
    the co-partitioned poll topic partition that the owner consumes."""
    request = PollRequest(feed_id=feed_id, reason=reason, requested_at=utcnow(), **extra)
    pending = await runtime.topic(FEED_POLLS).send(
        key=feed_id.encode(), value=request.model_dump_json().encode()
    )
    await pending


def install_pages(runtime: ServiceRuntime, options: FeedIngestSettings, scheduler: Scheduler) -> None:
    app = runtime.app
    settings = runtime.settings

    def tokens() -> list[str]:
        found = [secret.get_secret_value() for secret in (options.ping_token, settings.admin_token) if secret]
        return [token for token in found if token]

    @app.page("/ping")
    class Ping(View):
        async def post(self, request: Request, **kwargs: Any) -> Response:
            allowed = tokens()
            if not allowed:
                return self.json(
                    {"error": "ping is disabled: set HERALD_PING_TOKEN or HERALD_ADMIN_TOKEN"}, status=403
                )
            given = request.headers.get("Authorization", "")
            if not any(hmac.compare_digest(given.encode(), f"Bearer {token}".encode()) for token in allowed):
                return self.json({"error": "missing or wrong bearer token"}, status=401)
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                return self.json({"error": "body is not JSON"}, status=400)
            if not isinstance(body, dict) or not (body.get("feed_id") or body.get("url")):
                return self.json({"error": 'send {"url": ...} or {"feed_id": ...}'}, status=400)
            feed_id = str(body.get("feed_id") or feed_id_for(str(body["url"])))
            if not feed_id.startswith("feed-"):
                return self.json({"error": f"not a feed id: {feed_id!r}"}, status=400)
            await request_poll(runtime, feed_id, "ping")
            return self.json({"feed_id": feed_id, "status": "accepted"}, status=202)

    @app.page("/websub/{feed_id}")
    class WebSubCallback(View):
        async def get(self, request: Request, feed_id: str = "", **kwargs: Any) -> Response:
            query = request.query
            mode = query.get("hub.mode", "")
            topic = query.get("hub.topic", "")
            if not options.websub_enabled:
                return self.text("WebSub is not enabled", status=404)
            if mode == "denied":
                log.warning(
                    "hub denied the subscription of %s to %s: %s", feed_id, topic, query.get("hub.reason")
                )
                return self.text("ok")
            master = options.websub_secret.get_secret_value()  # type: ignore[union-attr]
            if mode != "subscribe" or not websub.intent_confirmed(master, feed_id, topic, query.get("t", "")):
                return self.text("no such subscription was requested", status=404)
            lease = query.get("hub.lease_seconds", "")
            if lease.isdigit():
                await request_poll(runtime, feed_id, "lease", lease_seconds=int(lease))
            return self.text(query.get("hub.challenge", ""))

        async def post(self, request: Request, feed_id: str = "", **kwargs: Any) -> Response:
            received = time.monotonic()
            if not options.websub_enabled:
                return self.text("WebSub is not enabled", status=404)
            declared = request.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > settings.feed_ingest.max_feed_bytes:
                return self.text("too large", status=413)
            body = await request.read()
            master = options.websub_secret.get_secret_value()  # type: ignore[union-attr]
            if not websub.signature_valid(
                websub.feed_secret(master, feed_id), body, request.headers.get("X-Hub-Signature")
            ):
                log.warning("refused a WebSub distribution for %s: bad or missing X-Hub-Signature", feed_id)
                return self.text("bad signature", status=403)
            carried = len(body) <= MAX_PUSH_BODY
            await request_poll(
                runtime,
                feed_id,
                "push",
                body_b64=base64.b64encode(body).decode() if carried else None,
                content_type=request.headers.get("Content-Type"),
            )
            log.debug("push for %s queued in %.1f ms", feed_id, (time.monotonic() - received) * 1000)
            return self.text("accepted", status=202)

    @app.page("/feeds/owned")
    async def owned(web: Any, request: Request) -> Response:
        feeds = {}
        for feed_id in sorted(scheduler.owned):
            state = scheduler.subscriptions.state(feed_id)
            if state is None:
                continue
            feeds[feed_id] = {
                "status": state.status,
                "polls_here": scheduler.poll_counts.get(feed_id, 0),
                "next_poll_at": state.next_poll_at,
                "interval": state.effective_interval or state.interval_seconds,
                "items_emitted": state.items_emitted,
            }
        return web.json(
            {
                "instance": runtime.instance,
                "partitions": sorted(scheduler.owned_partitions()) if runtime.ready else [],
                "feeds": feeds,
            }
        )


MAX_PUSH_BODY = 900_000  # bigger pushes are not carried through Kafka: the owner fetches instead
