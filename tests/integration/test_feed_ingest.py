"""feed_ingest as a real process against the real broker and a real HTTP feed server.

Walks issue 3's promises: the first poll announces nothing, conditional GETs are used, a new item
is announced exactly once, a restart (seen-state recovered from the table's changelog) repeats
nothing even when the feed body changes, and the next new item is announced once more.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.envelope import CloudEvent
from shared.events import FeedSubscribed
from shared.ids import feed_id_for
from shared.producer import EventProducer
from shared.topics import FEED_HEALTH, FEED_ITEMS, FEEDS, OPS_ERRORS, dead_letter
from tests.fakes.feed_server import FeedServer, rss_xml
from tests.support.kafka import collect_events, raw_records, wait_until
from tests.support.metrics import Samples, samples
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

PATH = "/news.xml"


def item(n: int) -> dict[str, str]:
    return {
        "title": f"Council news {n}",
        "link": f"https://www.lowshire.example/news/{n}",
        "guid": f"lowshire-{n}",
        "description": f"<p>Story <b>{n}</b></p>",
        "pubDate": f"Mon, {n:02d} Jun 2025 09:00:00 GMT",
    }


async def items_now(bootstrap: str, topic: str) -> list[tuple[str, CloudEvent]]:
    """Every record on the topic up to its current end: exact, no waiting for silence."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"test-{uuid.uuid4().hex}", enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(FEED_ITEMS.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found: list[tuple[str, CloudEvent]] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    found.append((record.key.decode(), CloudEvent.model_validate_json(record.value)))
        return found
    finally:
        await consumer.stop()


def _worker_env(bootstrap: str, namespace: str, state_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """One feed_ingest worker on the test broker, polling the loopback feed server."""
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_FEED_INGEST_PORT": str(port),
        "HERALD_ALLOW_PRIVATE_NETWORKS": "1",
        "HERALD_POLL_TICK_SECONDS": "0.2",
        **extra,
    }


def _subscription(feed_id: str, url: str) -> FeedSubscribed:
    return FeedSubscribed(feed_id=feed_id, url=url, interval_seconds=5, subscribed_at=datetime.now(UTC))


async def _subscribe(bootstrap: str, namespace: str, *keyed: tuple[str, FeedSubscribed]) -> None:
    """Send (record key, subscription) pairs to herald.feeds, in order."""
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        for key, subscription in keyed:
            await producer.send(FEEDS, key, subscription)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


async def test_each_item_is_announced_once_across_polls_and_restarts(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, feed_server: FeedServer
):
    namespace = herald_topics
    items_topic = namespace + FEED_ITEMS.name
    port = free_port()
    env = _worker_env(kafka_bootstrap, namespace, state_dir, port, HERALD_HTTP_TIMEOUT_SECONDS="5")
    feed_server.set_feed(PATH, rss_xml([item(2), item(1)]))
    feed_server.set_status("/broken.xml", 500, "database unavailable")
    url, broken_url = feed_server.url(PATH), feed_server.url("/broken.xml")
    feed_id = feed_id_for(url)
    polls = lambda: feed_server.requests[PATH]  # noqa: E731
    not_modified = lambda: feed_server.not_modified[PATH]  # noqa: E731

    service = ServiceProcess("feed_ingest", env, port, tmp_path)
    await asyncio.to_thread(service.start)
    try:
        await _subscribe(
            kafka_bootstrap,
            namespace,
            (feed_id, _subscription(feed_id, url)),
            # A feed that fails, and a record keyed by another feed id: neither stops the rest.
            (feed_id_for(broken_url), _subscription(feed_id_for(broken_url), broken_url)),
            ("feed-0000000000000000", _subscription(feed_id, url)),
        )

        # First poll, then a conditional one answered 304: the back catalogue is not announced.
        await wait_until(lambda: not_modified() >= 1, timeout=40)
        assert feed_server.last_request_headers[PATH].get("If-None-Match")
        assert await items_now(kafka_bootstrap, items_topic) == []

        # A new item: announced exactly once, keyed by its item id, as plain text.
        feed_server.set_feed(PATH, rss_xml([item(3), item(2), item(1)]))
        announced = await wait_until(lambda: items_now(kafka_bootstrap, items_topic), timeout=40)
        assert len(announced) == 1
        key, event = announced[0]
        assert event.type == "herald.feed.item.discovered.v1" and event.source == "/herald/feed_ingest"
        assert key == event.data["item_id"] == event.subject
        assert event.data["title"] == "Council news 3" and event.data["summary"] == "Story 3"
        assert event.data["feed_id"] == feed_id and event.data["feed_url"] == url
        assert event.data["published"] == "2025-06-03T09:00:00Z"
        seen_304s = not_modified()
        await wait_until(lambda: not_modified() > seen_304s, timeout=40)  # polled again: still one
        assert len(await items_now(kafka_bootstrap, items_topic)) == 1

        # Restart with a changed feed body (new ETag, same items): the seen-state must come back.
        service.stop()
        feed_server.set_feed(PATH, rss_xml([item(3), item(2), item(1)], title="Lowshire News (renamed)"))
        before = polls()
        await asyncio.to_thread(service.start)
        await wait_until(lambda: polls() >= before + 2, timeout=60)  # a 200 after restart, then another poll
        assert len(await items_now(kafka_bootstrap, items_topic)) == 1

        # Re-subscribing the same feed changes nothing either.
        async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=namespace) as producer:
            await producer.send(
                FEEDS,
                feed_id,
                FeedSubscribed(
                    feed_id=feed_id, url=url, interval_seconds=5, backfill=3, subscribed_at=datetime.now(UTC)
                ),
            )

        # The next new item: exactly one more.
        feed_server.set_feed(PATH, rss_xml([item(4), item(3), item(2), item(1)]))
        announced = await wait_until(
            lambda: _at_least(items_now(kafka_bootstrap, items_topic), 2), timeout=40
        )
        titles = sorted(
            event.data["title"] for _, event in announced
        )  # items_now reads partition by partition
        assert titles == ["Council news 3", "Council news 4"]
        seen_304s = not_modified()
        await wait_until(lambda: not_modified() > seen_304s, timeout=40)
        final = await items_now(kafka_bootstrap, items_topic)
        assert len(final) == 2 and len({key for key, _ in final}) == 2

        health = await asyncio.to_thread(_health, port)
        metrics = await asyncio.to_thread(_metrics, port)
        polls_counted = metrics["herald_feed_polls_total"]
        by_outcome = {
            outcome: sum(value for labels, value in polls_counted if labels["outcome"] == outcome)
            for outcome in ("ok", "not_modified", "error")
        }
        assert by_outcome["ok"] >= 1 and by_outcome["not_modified"] >= 1 and by_outcome["error"] >= 1
        [(_, timed)] = metrics["herald_feed_poll_seconds_count"]
        assert timed == sum(by_outcome.values())  # one scrape: every counted poll was timed
        assert health["owned_feeds"] == "2"
        errors = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=namespace,
            count=1,
            where=lambda event: event.data["kind"] == "feed_http_error",
        )
        assert errors and "HTTP 500" in errors[0].data["message"] and broken_url in errors[0].data["message"]
        dead = await raw_records(kafka_bootstrap, namespace + dead_letter("feed_ingest").name, count=1)
        reason = dict(dead[0].headers)["herald-dlq-reason"].decode()
        assert "is not the event's feed_id" in reason
    except BaseException:
        print(service.tail(80))
        raise
    finally:
        service.stop()


async def test_routine_304s_wait_in_memory_and_reach_the_changelog_when_the_worker_stops(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, feed_server: FeedServer
):
    """Most polls of a council's feeds are 304s that change only timing: the worker does not write
    its table per such poll (every poll is still reported on feed-health), and a clean stop writes
    the latest state of every feed, so a restart schedules from it. 400 feeds: the stop's writes
    must all be acknowledged before the producer goes (once, they met a closed producer)."""
    namespace = herald_topics
    port = free_port()
    # Only the stop writes the 304s' times here.
    env = _worker_env(kafka_bootstrap, namespace, state_dir, port, HERALD_FEED_TIMING_FLUSH_SECONDS="3600")
    paths = [f"/news-{n}.xml" for n in range(400)]
    feeds = {}
    for path in paths:
        feed_server.set_feed(path, rss_xml([item(1)]))
        feeds[path] = feed_id_for(feed_server.url(path))
    changelog = f"{namespace}herald-feed_ingest-feeds-changelog"

    async def stored_generations() -> dict[str, list[int]]:
        records = await raw_records(kafka_bootstrap, changelog, count=10_000, timeout=3)
        stored: dict[str, list[int]] = {}
        for record in records:
            stored.setdefault(json.loads(record.key), []).append(json.loads(record.value)["generation"])
        return stored

    service = ServiceProcess("feed_ingest", env, port, tmp_path)
    await asyncio.to_thread(service.start)
    try:
        await _subscribe(
            kafka_bootstrap,
            namespace,
            *((feed_id, _subscription(feed_id, feed_server.url(path))) for path, feed_id in feeds.items()),
        )
        await wait_until(lambda: all(feed_server.not_modified[p] >= 2 for p in paths), timeout=60)
        stored = await stored_generations()
        assert {feed_id: max(stored[feed_id]) for feed_id in feeds.values()} == dict.fromkeys(
            feeds.values(), 1
        )  # the first poll (200), no 304 since
        first = feeds[paths[0]]
        polled = await collect_events(
            kafka_bootstrap,
            FEED_HEALTH,
            namespace=namespace,
            count=3,
            where=lambda event: event.type == "herald.feed.polled.v1" and event.data["feed_id"] == first,
        )
        assert [e.data["outcome"] for e in polled] == ["ok", "not_modified", "not_modified"]
    except BaseException:
        print(service.tail(80))
        raise
    finally:
        service.stop()
    stored = await stored_generations()
    for path, feed_id in feeds.items():
        polls, last = feed_server.requests[path], max(stored[feed_id])
        # The stop wrote what the 304s left in memory (a poll cut short by the stop is not stored).
        assert polls >= 3 and polls - 1 <= last <= polls, (path, polls, last)
    log = service.log_path.read_text(errors="replace")
    assert "never retrieved" not in log and "not written" not in log, service.tail(80)


async def _at_least(found: Awaitable[list[tuple[str, CloudEvent]]], count: int) -> list | None:
    records = await found
    return records if len(records) >= count else None


def _metrics(port: int) -> Samples:
    return samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)


def _health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
