"""The publisher as a real process against the real broker and a real (loopback, TLS) X API:
exactly one post per item, redeliveries acknowledged without posting, X's answers mapped to
PostPublished/PostFailed, and the dry-run outbox surviving a restart without a second line."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered
from shared.producer import EventProducer
from shared.topics import FEED_ITEMS, POSTS
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.support.kafka import collect_events, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration


def make_item(title: str, link: str | None = None) -> FeedItemDiscovered:
    item_id = f"item-{uuid.uuid4().hex[:12]}"
    return FeedItemDiscovered(
        item_id=item_id,
        feed_id="feed-test",
        feed_url="https://www.example.gov.uk/news.rss",
        title=title,
        link=link or f"https://www.example.gov.uk/news/{item_id}",
        content_hash=uuid.uuid4().hex,
        discovered_at=datetime.now(UTC),
    )


def publisher_env(bootstrap: str, namespace: str, state_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_PUBLISHER_PORT": str(port),
        "HERALD_PUBLISHER_BACKOFF_BASE_SECONDS": "0.1",
        "HERALD_HEARTBEAT_INTERVAL_SECONDS": "2",
        # An X credential inherited from the developer's shell must not switch modes.
        **{name: "" for name in CREDENTIALS},
        **extra,
    }


async def send(bootstrap: str, namespace: str, item: FeedItemDiscovered) -> None:
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        await producer.send(FEED_ITEMS, item.item_id, item)


async def outcome(
    bootstrap: str, namespace: str, item: FeedItemDiscovered, count: int = 1, within: float = 60.0
) -> list[CloudEvent]:
    return await collect_events(
        bootstrap,
        POSTS,
        namespace=namespace,
        count=count,
        where=lambda e: e.subject == item.item_id,
        timeout=within,
    )


async def no_second_outcome(bootstrap: str, namespace: str, item: FeedItemDiscovered) -> int:
    """How many outcomes the item has, read once every record was handled: the handler awaits the
    broker's ack of its events before its record is committed, so a short read sees them all."""
    return len(await outcome(bootstrap, namespace, item, count=2, within=5.0))


async def wait_all_consumed(bootstrap: str, namespace: str, within: float = 60.0) -> None:
    """Until the publisher's group has committed every record on feed-items (so every item,
    redeliveries included, has been handled)."""
    topic = namespace + FEED_ITEMS.name
    group = f"{namespace}herald-publisher"
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(FEED_ITEMS.partitions)]

        async def caught_up() -> bool:
            ends = await probe.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
            return all(
                ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in partitions
            )

        await wait_until(caught_up, timeout=within, interval=0.5)
    finally:
        await probe.stop()
        await admin.close()


async def get_health(port: int) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"http://127.0.0.1:{port}/health")).json()


async def test_posts_each_item_once_on_x(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    namespace = herald_topics
    port = free_port()
    env = publisher_env(
        kafka_bootstrap,
        namespace,
        state_dir,
        port,
        HERALD_X_API_BASE_URL=fake_x.base_url,
        HERALD_X_CA_BUNDLE=str(fake_x.ca_path),
        **CREDENTIALS,
    )
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        health = await get_health(port)
        assert health["mode"] == "live"

        # A new item: exactly one post, with the rendered text, and a PostPublished.
        item = make_item("Bin collections change over the Easter bank holiday")
        await send(kafka_bootstrap, namespace, item)
        [published] = await outcome(kafka_bootstrap, namespace, item)
        assert published.type == "herald.post.published.v1", published.data
        expected = f"{item.title} {item.link}"
        assert fake_x.texts() == [expected]
        assert published.data["text"] == expected
        assert published.data["post_id"] == fake_x.posts[0]["id"]
        assert published.data["dry_run"] is False
        assert published.data["channel"] == "x" and published.data["account"] == "corporate"
        oauth = fake_x.posts[0]["oauth"]
        assert oauth["oauth_consumer_key"] == CREDENTIALS["HERALD_X_API_KEY"]

        # The same item again (a redelivery): acknowledged, not posted.
        await send(kafka_bootstrap, namespace, item)
        await wait_all_consumed(kafka_bootstrap, namespace)
        assert fake_x.texts() == [expected]
        assert await no_second_outcome(kafka_bootstrap, namespace, item) == 1

        # X says duplicate content: PostFailed, final, and no retry.
        duplicate = make_item("Library opening hours")
        fake_x.script("duplicate")
        await send(kafka_bootstrap, namespace, duplicate)
        [failed] = await outcome(kafka_bootstrap, namespace, duplicate)
        assert failed.type == "herald.post.failed.v1"
        assert failed.data["retryable"] is False and failed.data["error_code"] == "duplicate"
        assert "duplicate content" in failed.data["reason"]
        assert [call.text for call in fake_x.calls].count(f"{duplicate.title} {duplicate.link}") == 1

        # A 500 then a 429 with a reset 2 s ahead: retried, posted once, never before the reset.
        flaky = make_item("Roadworks on the A38")
        fake_x.script("500", "429")
        await send(kafka_bootstrap, namespace, flaky)
        [published] = await outcome(kafka_bootstrap, namespace, flaky)
        assert published.type == "herald.post.published.v1", published.data
        flaky_calls = [call for call in fake_x.calls if call.text == f"{flaky.title} {flaky.link}"]
        assert [call.status for call in flaky_calls] == [500, 429, 201]
        assert flaky_calls[2].at >= int(flaky_calls[1].at) + fake_x.rate_limit_reset_in
        assert fake_x.texts().count(f"{flaky.title} {flaky.link}") == 1
    finally:
        service.stop()


async def test_rejected_credentials_fail_for_good(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    namespace = herald_topics
    port = free_port()
    wrong = {**CREDENTIALS, "HERALD_X_ACCESS_TOKEN_SECRET": "not-the-secret"}
    env = publisher_env(
        kafka_bootstrap,
        namespace,
        state_dir,
        port,
        HERALD_X_API_BASE_URL=fake_x.base_url,
        HERALD_X_CA_BUNDLE=str(fake_x.ca_path),
        **wrong,
    )
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        item = make_item("Council tax bills are on their way")
        await send(kafka_bootstrap, namespace, item)
        [failed] = await outcome(kafka_bootstrap, namespace, item)
        assert failed.type == "herald.post.failed.v1"
        assert failed.data["error_code"] == "auth" and failed.data["retryable"] is False
        assert "signature" in failed.data["reason"]  # the fake really checked the HMAC-SHA1 signature
        assert fake_x.posts == [] and len(fake_x.calls) == 1
    finally:
        service.stop()


async def test_outbox_dry_run_survives_a_restart(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    namespace = herald_topics
    port = free_port()
    env = publisher_env(kafka_bootstrap, namespace, state_dir, port)
    outbox = state_dir / "outbox" / "x.jsonl"
    item = make_item("Park run cancelled this Saturday")

    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        health = await get_health(port)
        assert health["mode"] == "dry-run outbox"
        await send(kafka_bootstrap, namespace, item)
        [published] = await outcome(kafka_bootstrap, namespace, item)
        assert published.data["dry_run"] is True and published.data["channel"] == "outbox"
        lines = outbox.read_text().splitlines()
        assert len(lines) == 1
        line = json.loads(lines[0])
        assert line["item_id"] == item.item_id and line["text"] == f"{item.title} {item.link}"
        assert {"item_id", "channel", "account", "text", "link", "title", "at"} <= line.keys()
    finally:
        service.stop()
    assert "DRY RUN" in service.tail(400)

    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, namespace, item)
        await wait_all_consumed(kafka_bootstrap, namespace)
        assert len(outbox.read_text().splitlines()) == 1
        assert await no_second_outcome(kafka_bootstrap, namespace, item) == 1
    finally:
        service.stop()


async def test_intent_without_result_is_not_posted_again(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    """SIGKILL while X is handling the call: after the restart the intent is resolved by looking at
    the account's timeline (issue 4): the post is found there, recorded, never posted again."""
    namespace = herald_topics
    port = free_port()
    env = publisher_env(
        kafka_bootstrap,
        namespace,
        state_dir,
        port,
        HERALD_X_API_BASE_URL=fake_x.base_url,
        HERALD_X_CA_BUNDLE=str(fake_x.ca_path),
        **CREDENTIALS,
    )
    item = make_item("Flood warning for the river Exe")
    text = f"{item.title} {item.link}"
    fake_x.script("hang")
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, namespace, item)
        await wait_until(lambda: fake_x.in_flight == 1, timeout=60)
        service.kill()  # the intent is on the broker; the result never will be
        fake_x.release()  # X accepts the post after all
        await wait_until(lambda: fake_x.texts() == [text], timeout=10)
    finally:
        service.stop()

    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        [published] = await outcome(kafka_bootstrap, namespace, item)
        assert published.type == "herald.post.published.v1", published.data
        assert published.data["post_id"] == fake_x.posts[0]["id"]
        assert fake_x.texts() == [text]
        assert [call.text for call in fake_x.calls].count(text) == 1
    finally:
        service.stop()
