"""`herald preview`: what the publisher would post, measured the way the channel measures it.

`herald preview --channel x --json TEXT` prints `{"post": …, "weighted_length": N, "fits": bool}`:
`weighted_length` and `fits` are for TEXT as given, `post` what would be sent (shortened at a
word boundary with an ellipsis when too long). `herald preview --channel x ITEM_ID` reads the item
from `herald.feed-items` and renders it through its route(s) from the publisher's config file
(`HERALD_PUBLISHER_CONFIG`), one line per matching `kind:account`.
"""

from __future__ import annotations

import asyncio
import json
import re

import typer
from aiokafka import AIOKafkaConsumer, TopicPartition

from herald import context
from herald.errors import UserError
from services.publisher.accounts import AccountsConfigError, load_accounts
from services.publisher.config import ConfigError, load_config
from services.publisher.lengths import rules_for
from services.publisher.render import RenderError, render_route
from services.publisher.routing import default_routes, routes_for
from services.publisher.text import extract_urls
from shared.envelope import EventDecodeError, decode
from shared.events import FeedItemDiscovered, FeedItemUpdated
from shared.topics import FEED_ITEMS

ITEM_ID = re.compile(r"^item-[0-9a-z]+$")
KINDS = ("x", "mastodon", "bluesky", "facebook", "webhook")


def preview_text(text: str, kind: str) -> dict[str, object]:
    """The JSON `herald preview --json TEXT` prints (pure, for tests and other callers)."""
    rules = rules_for(kind)
    fits = rules.fits(text)
    post = text
    if not fits:
        # A link at the end is kept whole (the words before it give way), as the renderer does.
        body, suffix = text.rstrip(), ""
        links = extract_urls(body)
        if links and links[-1][1] == len(body):
            start = links[-1][0]
            link = body[start:]
            body = body[:start].rstrip()
            suffix = " " + link if body else link
        post = rules.truncate(body, suffix) if body else (suffix if rules.fits(suffix) else None)
    return {"post": post, "weighted_length": rules.length(text), "fits": fits}


async def latest_item(bootstrap: str, namespace: str, item_id: str) -> FeedItemDiscovered | None:
    """The newest event of `item_id` on feed-items (an update as it reads now), or None."""
    tp = TopicPartition(namespace + FEED_ITEMS.name, FEED_ITEMS.partition_for(item_id.encode()))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=15000
    )
    await context.start_consumer(consumer, bootstrap)
    found: FeedItemDiscovered | None = None
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while end and await consumer.position(tp) < end:
            batches = await consumer.getmany(tp, timeout_ms=1000)
            for record in batches.get(tp, []):
                if record.key != item_id.encode():
                    continue
                try:
                    _, payload = decode(record.value, FEED_ITEMS.accepts)
                except EventDecodeError:
                    continue
                if isinstance(payload, FeedItemUpdated):
                    data = payload.model_dump()
                    data["discovered_at"] = payload.detected_at
                    payload = FeedItemDiscovered.model_validate(data)
                found = payload  # type: ignore[assignment]
    finally:
        await consumer.stop()
    return found


def preview(
    subject: str = typer.Argument(..., help="The text to measure, or an item id (`item-…`)."),
    channel: str = typer.Option("x", "--channel", help="`x`, `mastodon`, `bluesky`… or `kind:account`."),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
    text_mode: bool = typer.Option(
        False, "--text", help="Treat SUBJECT as text even if it looks like an id."
    ),
) -> None:
    """Render a post: TEXT as given, or a real item through its route."""
    kind = channel.partition(":")[0]
    if kind not in KINDS:
        raise UserError(f"unknown channel {channel!r} (known: {', '.join(KINDS)}, or kind:account)")
    if text_mode or not ITEM_ID.match(subject):
        result = preview_text(subject, kind)
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            verdict = "fits" if result["fits"] else "too long"
            limit = rules_for(kind).limit
            print(f"{channel}: {result['weighted_length']}/{limit} ({verdict})\n{result['post']}")
        return
    config = context.settings()
    try:
        publisher = load_config(config.publisher.publisher_config)
        accounts = load_accounts(config.publisher.publisher_config)
    except (ConfigError, AccountsConfigError) as exc:
        raise UserError(str(exc)) from None
    default_target = accounts.accounts[0].key if accounts and accounts.accounts else "x:corporate"
    bootstrap, _ = context.bootstrap(config, start=False)
    item = asyncio.run(latest_item(bootstrap, config.topic_namespace, subject))
    if item is None:
        raise UserError(f"no item {subject} on {FEED_ITEMS.name}")
    routes = [
        route
        for route in routes_for(item, publisher.routes or default_routes(default_target))
        if channel in (route.kind, route.target)
    ]
    if not routes:
        raise UserError(f"item {subject} (feed {item.feed_id}) has no route to {channel}")
    for route in routes:
        try:
            post = render_route(item, route, kind=route.kind)
        except RenderError as exc:
            raise UserError(f"{route.target}: {exc}") from None
        rules = rules_for(route.kind)
        result = {
            "channel": route.target,
            "post": post,
            "weighted_length": rules.length(post),
            "fits": rules.fits(post),
        }
        if as_json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(f"{route.target}: {result['weighted_length']}/{rules.limit}\n{post}")
