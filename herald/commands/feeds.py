"""`herald feeds add|list|remove|check`: the council's feed subscriptions."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.topic_reader import read_to_end
from shared.envelope import EventDecodeError, decode
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.ids import feed_id_for
from shared.producer import EventProducer
from shared.topics import FEEDS

app = typer.Typer(help="Feeds Herald watches.", no_args_is_help=True)
console = Console()
CLI_SOURCE = "/herald/cli"


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"not an http(s) feed URL: {url!r}")
    return url


@app.command()
def add(
    url: str = typer.Argument(..., help="The feed's http(s) URL."),
    interval: int = typer.Option(
        None, "--interval", min=5, help="Seconds between polls (default from settings)."
    ),
    backfill: int = typer.Option(0, "--backfill", min=0, help="Also post the latest N existing items."),
) -> None:
    """Subscribe to a feed. Its existing items are not posted (unless --backfill N)."""
    config = context.settings()
    event = FeedSubscribed(
        feed_id=feed_id_for(_checked_url(url)),
        url=url,
        interval_seconds=interval or config.default_poll_interval_seconds,
        backfill=backfill,
        subscribed_at=datetime.now(UTC),
    )
    bootstrap, _ = context.bootstrap(config, start=True)

    async def send() -> None:
        await context.prepare_topics(bootstrap, config)
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(FEEDS, event.feed_id, event)

    context.run(send())
    console.print(f"subscribed [bold]{event.feed_id}[/] {url} every {event.interval_seconds}s")


@app.command()
def remove(url_or_id: str = typer.Argument(..., help="Feed URL or feed id.")) -> None:
    """Stop watching a feed."""
    config = context.settings()
    feed_id = url_or_id if url_or_id.startswith("feed-") else feed_id_for(_checked_url(url_or_id))
    bootstrap, _ = context.bootstrap(config, start=False)
    current = context.run(_subscriptions(bootstrap, config.topic_namespace))
    if feed_id not in current:
        raise UserError(f"no subscribed feed {url_or_id}")
    event = FeedUnsubscribed(
        feed_id=feed_id, url=str(current[feed_id].url), unsubscribed_at=datetime.now(UTC)
    )

    async def send() -> None:
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(FEEDS, feed_id, event)

    context.run(send())
    console.print(f"removed {feed_id} {event.url}")


async def _subscriptions(bootstrap: str, namespace: str) -> dict[str, FeedSubscribed]:
    """The current subscriptions: the latest event per feed on the compacted feeds topic."""
    current: dict[str, FeedSubscribed] = {}
    async for record in read_to_end(bootstrap, FEEDS, namespace=namespace):
        try:
            _, payload = decode(record.value, FEEDS.accepts)
        except EventDecodeError:
            continue  # the feed_ingest service dead-letters these; a listing just skips them
        if isinstance(payload, FeedSubscribed):
            current[payload.feed_id] = payload
        elif isinstance(payload, FeedUnsubscribed):
            current.pop(payload.feed_id, None)
    return current


@app.command("list")
def list_feeds(as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """The feeds Herald watches."""
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    feeds = context.run(_subscriptions(bootstrap, config.topic_namespace))
    if as_json:
        for feed in feeds.values():
            print(feed.model_dump_json())
        return
    table = Table("feed id", "url", "every", "subscribed", title=f"{len(feeds)} feeds")
    table.columns[1].overflow = "fold"
    for feed in sorted(feeds.values(), key=lambda f: str(f.url)):
        table.add_row(
            feed.feed_id, str(feed.url), f"{feed.interval_seconds}s", feed.subscribed_at.isoformat()
        )
    console.print(table)


@app.command()
def check(url: str = typer.Argument(..., help="The feed's http(s) URL.")) -> None:
    """Fetch and parse one feed: its FeedItemDiscovered events (all items, envelope included) as
    JSON lines on stdout, the outcome on stderr. Needs no Kafka."""
    from services.feed_ingest.check import check_feed

    config = context.settings()
    _checked_url(url)
    result = context.run(check_feed(url, config))
    if not result.ok:
        status = f" (HTTP {result.http_status})" if result.http_status else ""
        raise UserError(f"{url}: {result.error_kind}{status}: {result.error}")
    for envelope in result.events:
        sys.stdout.write(envelope.to_bytes().decode() + "\n")
    notes = f"; warnings: {'; '.join(result.warnings)}" if result.warnings else ""
    Console(stderr=True).print(
        f"ok: {result.feed_title or '(untitled)'} [{result.feed_version}] HTTP {result.http_status}, "
        f"{result.item_count} items, feed id {result.feed_id}{notes}",
        highlight=False,
    )
