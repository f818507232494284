"""`herald feeds add|list|remove|pause|resume|check`: the council's feed subscriptions."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import typer
from pydantic import HttpUrl, TypeAdapter, ValidationError
from rich.console import Console
from rich.table import Table

from herald import context
from herald.errors import UserError
from herald.topic_reader import read_to_end
from shared.envelope import EventDecodeError, decode
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.ids import feed_id_for
from shared.producer import EventProducer
from shared.topics import FEED_HEALTH, FEED_POLLS, FEEDS

app = typer.Typer(help="Feeds Herald watches.", no_args_is_help=True)
console = Console()
CLI_SOURCE = "/herald/cli"


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _checked_url(url: str) -> str:
    """`url` if a FeedSubscribed can carry it (its field's own type decides: scheme, host, port,
    length); else a one-line refusal saying why."""
    try:
        _HTTP_URL.validate_python(url)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise UserError(f"not an http(s) feed URL: {url!r} ({reason})") from None
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
        interval_seconds=interval or config.feed_ingest.default_poll_interval_seconds,
        backfill=backfill,
        subscribed_at=datetime.now(UTC),
    )
    bootstrap, _ = context.bootstrap(config, start=True)

    async def send() -> None:
        await context.prepare_topics(bootstrap, config)
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(FEEDS, event.feed_id, event)

    asyncio.run(send())
    console.print(f"subscribed [bold]{event.feed_id}[/] {url} every {event.interval_seconds}s")


@app.command()
def remove(url_or_id: str = typer.Argument(..., help="Feed URL or feed id.")) -> None:
    """Stop watching a feed."""
    config = context.settings()
    feed_id = url_or_id if url_or_id.startswith("feed-") else feed_id_for(_checked_url(url_or_id))
    bootstrap, _ = context.bootstrap(config, start=False)
    current = asyncio.run(_subscriptions(bootstrap, config.topic_namespace))
    if feed_id not in current:
        raise UserError(f"no subscribed feed {url_or_id}")
    event = FeedUnsubscribed(
        feed_id=feed_id, url=str(current[feed_id].url), unsubscribed_at=datetime.now(UTC)
    )

    async def send() -> None:
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(FEEDS, feed_id, event)

    asyncio.run(send())
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


def _find(current: dict[str, FeedSubscribed], url_or_id: str) -> FeedSubscribed:
    """A subscription by feed id, by the URL it was added with, or by its current URL (moved feeds)."""
    if url_or_id in current:
        return current[url_or_id]
    if not url_or_id.startswith("feed-"):
        by_id = current.get(feed_id_for(_checked_url(url_or_id)))
        if by_id is not None:
            return by_id
        for feed in current.values():
            if str(feed.url) == url_or_id:
                return feed
    raise UserError(f"no subscribed feed {url_or_id}")


def _set_paused(url_or_id: str, paused: bool) -> None:
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    feed = _find(asyncio.run(_subscriptions(bootstrap, config.topic_namespace)), url_or_id)
    event = feed.model_copy(update={"paused": paused})

    async def send() -> None:
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            await producer.send(FEEDS, feed.feed_id, event)

    asyncio.run(send())
    console.print(f"{'paused' if paused else 'resumed'} {feed.feed_id} {feed.url}")


@app.command()
def pause(url_or_id: str = typer.Argument(..., help="Feed URL or feed id.")) -> None:
    """Stop polling a feed for now (its seen items are kept)."""
    _set_paused(url_or_id, True)


@app.command()
def resume(url_or_id: str = typer.Argument(..., help="Feed URL or feed id.")) -> None:
    """Poll a paused feed again, at once."""
    _set_paused(url_or_id, False)


@app.command("poll")
def poll_now(
    url_or_id: str = typer.Argument(None, help="Feed URL or feed id (or --all)."),
    every_feed: bool = typer.Option(False, "--all", help="Poll every subscribed feed now."),
) -> None:
    """Poll a feed now, or every feed (--all), instead of waiting for its next scheduled poll:
    after the council's site was down, or to see a just-published item sooner. The outcome is on
    herald.ops.feed-health and in `herald feeds list`."""
    from services.feed_ingest.state import PollRequest

    if every_feed == bool(url_or_id):
        raise UserError("name one feed (URL or feed id) or give --all, not both")
    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    now = datetime.now(UTC)

    async def send() -> str:
        async with EventProducer(bootstrap, source=CLI_SOURCE, namespace=config.topic_namespace) as producer:
            if every_feed:  # one request per partition: its owner polls all the feeds it holds there
                request = PollRequest.refresh(now).model_dump_json().encode()
                for partition in await producer.partitions(FEED_POLLS):
                    await producer.send_record(FEED_POLLS, request, partition=partition)
                return "every feed"
            feed = _find(await _subscriptions(bootstrap, config.topic_namespace), url_or_id)
            request = PollRequest(feed_id=feed.feed_id, reason="ping", requested_at=now)
            await producer.send_record(FEED_POLLS, request.model_dump_json().encode(), key=feed.feed_id)
            return f"{feed.feed_id} {feed.url}"

    what = asyncio.run(send())
    console.print(f"asked for a poll of {what} now; outcomes on `herald feeds list`")


async def _health_events(bootstrap: str, namespace: str) -> list:
    events = []
    async for record in read_to_end(bootstrap, FEED_HEALTH, namespace=namespace):
        try:
            _, payload = decode(record.value, FEED_HEALTH.accepts)
        except EventDecodeError:
            continue
        events.append(payload)
    return events


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


@app.command("list")
def list_feeds(as_json: bool = typer.Option(False, "--json", help="One JSON object per line.")) -> None:
    """The feeds Herald watches, with their health: status, last success, last error, next poll."""
    from services.feed_ingest.health import fold

    config = context.settings()
    bootstrap, _ = context.bootstrap(config, start=False)
    feeds = asyncio.run(_subscriptions(bootstrap, config.topic_namespace))
    rows = fold(feeds, asyncio.run(_health_events(bootstrap, config.topic_namespace)))
    if as_json:
        for row in rows:
            health = {
                "status": row.status,
                "last_success": row.last_success.isoformat() if row.last_success else None,
                "last_error": row.last_error,
                "last_error_at": row.last_error_at.isoformat() if row.last_error_at else None,
                "next_poll": row.next_poll.isoformat() if row.next_poll else None,
                "items_seen": row.items_seen,
                "items_new": row.items_new,
            }
            print(json.dumps({**row.feed.model_dump(mode="json"), **health}))
        return
    table = Table(
        "feed id",
        "url",
        "every",
        "status",
        "last success",
        "last error",
        "next poll",
        "items",
        title=f"{len(feeds)} feeds",
    )
    table.columns[1].overflow = "fold"
    table.columns[5].overflow = "fold"
    for row in rows:
        error = f"{_when(row.last_error_at)} {row.last_error}" if row.last_error else "—"
        table.add_row(
            row.feed.feed_id,
            str(row.feed.url),
            f"{row.feed.interval_seconds}s",
            row.status,
            _when(row.last_success),
            error,
            "—" if row.status == "paused" else _when(row.next_poll),
            f"{row.items_seen} ({row.items_new} new)",
        )
    console.print(table)


@app.command()
def check(url: str = typer.Argument(..., help="The feed's http(s) URL.")) -> None:
    """Fetch and parse one feed: its FeedItemDiscovered events (all items, envelope included) as
    JSON lines on stdout, the outcome on stderr. Needs no Kafka."""
    from services.feed_ingest.check import check_feed

    config = context.settings()
    _checked_url(url)
    result = asyncio.run(check_feed(url, config))
    if not result.ok:
        status = f" (HTTP {result.http_status})" if result.http_status else ""
        raise UserError(f"{url}: {result.error_kind}{status}: {result.error}")
    for envelope in result.events:
        sys.stdout.write(envelope.to_bytes().decode() + "\n")
    notes = f"; warnings: {'; '.join(result.warnings)}" if result.warnings else ""
    print(  # one line, unwrapped, like the errors: scripts read it
        f"ok: {result.feed_title or '(untitled)'} [{result.feed_version}] HTTP {result.http_status}, "
        f"{result.item_count} items, feed id {result.feed_id}{notes}",
        file=sys.stderr,
    )
