"""The notifier service as a real subprocess against the real broker, alerting a real SMTP server
(aiosmtpd) and a real webhook receiver (aiohttp) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from shared.envelope import CloudEvent
from shared.events import PostFailed, PostPublished, StaffAccount, StaffAccountUpdated
from shared.producer import EventProducer
from shared.runtime import DLQ_HEADER_PREFIX
from shared.topics import DIRECTORY_EVENTS, FORUM_ALERTS, OPS_ERRORS, POSTS, dead_letter
from tests.fakes.smtp import FakeSMTP
from tests.fakes.webhook import FakeWebhook
from tests.support.kafka import collect_events, raw_records, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 10, 30, tzinfo=UTC)
SUE = StaffAccount(
    staff_id="sue-tylcoat", name="Sue Tylcoat", role="Solutions Development Manager", handle="suety"
)


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def notifier_env(
    kafka_bootstrap: str, namespace: str, state_dir: Path, port: int, smtp_port: int, webhook_url: str
) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_NOTIFIER_PORT": str(port),
        "HERALD_ADMIN_TOKEN": "unused-here",
        "HERALD_SMTP_HOST": "127.0.0.1",
        "HERALD_SMTP_PORT": str(smtp_port),
        "HERALD_FORUM_EMAIL_TO": "forum@council.example",
        "HERALD_FORUM_EMAIL_FROM": "herald@council.example",
        "HERALD_FORUM_WEBHOOK_URL": webhook_url,
        "HERALD_FORUM_WEBHOOK_TOKEN": "webhook-token",
    }


@pytest.fixture
def notifier(
    kafka_bootstrap: str,
    herald_topics: str,
    state_dir: Path,
    tmp_path: Path,
    smtp: FakeSMTP,
    webhook: FakeWebhook,
) -> Iterator[ServiceProcess]:
    port = free_port()
    env = notifier_env(kafka_bootstrap, herald_topics, state_dir, port, smtp.port, webhook.url)
    process = ServiceProcess("notifier", env, port, tmp_path).start()
    try:
        yield process
    finally:
        process.stop()


def published() -> PostPublished:
    return PostPublished(
        item_id="item-roads",
        channel="x",
        account="corporate",
        post_id="1790001",
        post_url="https://x.com/devoncc/status/1790001",
        text="Road closures this week https://council.example/n/1",
        title="Road closures this week",
        link="https://council.example/n/1",
        dry_run=False,
        published_at=NOW,
    )


async def alerts_about(bootstrap: str, namespace: str, *events: CloudEvent) -> dict[str, CloudEvent]:
    wanted = {event.id for event in events}
    found = await collect_events(
        bootstrap, FORUM_ALERTS, namespace=namespace, count=len(wanted), where=lambda e: e.subject in wanted
    )
    return {event.data["about_event_id"]: event for event in found}


async def test_posts_and_directory_changes_reach_the_forum(
    notifier: ServiceProcess, smtp: FakeSMTP, webhook: FakeWebhook, kafka_bootstrap: str, herald_topics: str
) -> None:
    moved = StaffAccountUpdated(
        request_id="r1",
        account=SUE.model_copy(update={"handle": "sue_t"}),
        previous=SUE,
        changed_fields=["handle"],
        changed_at=NOW,
    )
    async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=herald_topics) as producer:
        post_event = await producer.send(POSTS, "item-roads", published())
        directory_event = await producer.send(DIRECTORY_EVENTS, SUE.staff_id, moved)

    alerts = await alerts_about(kafka_bootstrap, herald_topics, post_event, directory_event)
    assert set(alerts) == {post_event.id, directory_event.id}
    post_alert, directory_alert = alerts[post_event.id], alerts[directory_event.id]
    assert post_alert.type == "herald.forum.alert.sent.v1"
    assert post_alert.data["headline"] == "Posted to X (corporate): Road closures this week"
    assert post_alert.data["about_event_type"] == "herald.post.published.v1"
    assert post_alert.data["transports"] == ["email", "webhook"]
    assert directory_alert.data["headline"] == "Directory: Sue Tylcoat's X handle changed @suety → @sue_t"
    assert directory_alert.data["transports"] == ["email", "webhook"]

    subjects = set(smtp.subjects())
    assert subjects == {post_alert.data["headline"], directory_alert.data["headline"]}
    assert all(envelope.rcpt_tos == ["forum@council.example"] for envelope in smtp.envelopes)
    post_mail = next(m for m in smtp.messages if m["X-Herald-Event-Id"] == post_event.id)
    assert "https://x.com/devoncc/status/1790001" in post_mail.get_content()

    bodies = {body["event_id"]: body for body in webhook.bodies()}
    assert set(bodies) == {post_event.id, directory_event.id}
    assert bodies[directory_event.id]["headline"] == directory_alert.data["headline"]
    assert bodies[post_event.id]["event_type"] == "herald.post.published.v1"
    assert all(r.headers["Authorization"] == "Bearer webhook-token" for r in webhook.requests)


async def test_an_unreadable_record_is_dead_lettered_and_the_next_event_alerted(
    notifier: ServiceProcess, smtp: FakeSMTP, kafka_bootstrap: str, herald_topics: str
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        # Same key as the valid event below: same partition, so the bad record is read first.
        await producer.send_and_wait(herald_topics + POSTS.name, b"{not json", key=b"item-lost")
    finally:
        await producer.stop()
    failed = PostFailed(
        item_id="item-lost",
        channel="x",
        account="corporate",
        reason="duplicate content",
        error_code="http_403",
        retryable=False,
        attempts=1,
        title="Library opening hours",
        failed_at=NOW,
    )
    async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=herald_topics) as events:
        failed_event = await events.send(POSTS, "item-lost", failed)

    [dead] = await raw_records(kafka_bootstrap, herald_topics + dead_letter("notifier").name, count=1)
    assert dead.value == b"{not json" and dead.key == b"item-lost"
    headers = dict(dead.headers)
    assert headers[f"{DLQ_HEADER_PREFIX}reason"].decode().startswith("value is not JSON")
    assert headers[f"{DLQ_HEADER_PREFIX}topic"].decode() == herald_topics + POSTS.name

    alerts = await alerts_about(kafka_bootstrap, herald_topics, failed_event)
    assert alerts[failed_event.id].data["headline"] == (
        "Post FAILED on X: Library opening hours — duplicate content"
    )
    await wait_until(lambda: "Post FAILED on X: Library opening hours — duplicate content" in smtp.subjects())


async def test_a_dead_smtp_server_is_reported_and_the_webhook_still_alerts(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, webhook: FakeWebhook
) -> None:
    port = free_port()
    env = notifier_env(
        kafka_bootstrap, herald_topics, state_dir, port, free_port(), webhook.url
    )  # nobody listens
    process = ServiceProcess("notifier", env, port, tmp_path).start()
    try:
        webhook.fail_next(1, status=502)  # one transient webhook failure: retried, then delivered
        async with EventProducer(
            kafka_bootstrap, source="/herald/tests", namespace=herald_topics
        ) as producer:
            event = await producer.send(POSTS, "item-dry", published().model_copy(update={"dry_run": True}))

        alerts = await alerts_about(kafka_bootstrap, herald_topics, event)
        assert alerts[event.id].data["transports"] == ["webhook"]
        assert alerts[event.id].data["headline"] == (
            "Posted to X (corporate) (dry run — outbox): Road closures this week"
        )
        assert len(webhook.requests) == 2
        [error] = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=herald_topics,
            where=lambda e: e.data["service"] == "notifier",
        )
        assert error.data["kind"] == "forum_email_failed"
        assert error.data["message"].startswith(f"alert about {event.id}: SMTP 127.0.0.1:")
        assert process.process is not None and process.process.poll() is None  # still running
    finally:
        process.stop()
