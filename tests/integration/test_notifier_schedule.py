"""The notifier's time-driven alerts, as a real worker on the real broker with loopback receivers,
its clock set through HERALD_NOTIFIER_CLOCK_FILE: a daily digest across window boundaries and two
restarts (a SIGKILL mid-window; a stop across a boundary, with an event of the closing window
waiting) tells each event exactly once, a late one in the next digest; quiet hours hold alerts
until they end; a routed feed item becomes a reminder a day before its date, moved when the item's
date changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.envelope import CloudEvent, EventPayload, wrap
from shared.events import FeedItemDiscovered, FeedItemUpdated, PostFailed, PostHeld, PostPublished
from shared.producer import EventProducer, record_headers
from shared.topics import FEED_ITEMS, FORUM_ALERTS, POSTS, TopicSpec
from tests.fakes.webhook import FakeWebhook, ReceivedRequest
from tests.integration.test_notifier import published, start_service, targets_file
from tests.support.kafka import collect_events, raw_records, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def receiver() -> Iterator[FakeWebhook]:
    with FakeWebhook(any_path=True) as server:
        yield server


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


class SetClock:
    """The notifier's clock: set by writing an instant into its file; it runs on from there."""

    def __init__(self, path: Path, now: datetime) -> None:
        self.path = path
        self.set(now)

    def set(self, now: datetime) -> None:
        self.path.write_text(now.isoformat())


def webhook(name: str, receiver: FakeWebhook, env: dict[str, str], **fields: Any) -> dict[str, Any]:
    variable = f"TEST_{name.upper().replace('-', '_')}_URL"
    env[variable] = f"http://127.0.0.1:{receiver.port}/{name}"
    return {"name": name, "kind": "webhook", "url": {"env": variable}, **fields}


def to(receiver: FakeWebhook, name: str) -> list[ReceivedRequest]:
    return [r for r in list(receiver.requests) if r.path == f"/{name}"]


async def send_at(
    producer: EventProducer, spec: TopicSpec, key: str, payload: EventPayload, when: datetime
) -> CloudEvent:
    """An event that happened at `when` (the CloudEvents time the digest's window is taken from)."""
    envelope = wrap(payload, source="/herald/tests", time=when)
    await producer.send_record(spec, envelope.to_bytes(), key=key, headers=record_headers(envelope))
    return envelope


def failed(item: str) -> PostFailed:
    return PostFailed(
        item_id=item,
        channel="mastodon",
        account="corporate",
        reason="instance down",
        error_code="http_503",
        retryable=True,
        attempts=4,
        title=f"Title {item}",
        failed_at=utc(2026, 3, 2, 8),
    )


def held(item: str) -> PostHeld:
    return PostHeld(
        item_id=item,
        channel="x",
        account="corporate",
        rule="keyword",
        reason="blocked word",
        text="held text",
        title=f"Title {item}",
        held_at=utc(2026, 3, 2, 8),
    )


def posted(item: str) -> PostPublished:
    return published(item, f"text of {item}").model_copy(update={"title": f"Title {item}"})


def in_digests(digests: list[ReceivedRequest], item: str) -> list[int]:
    """Which digests (by position) tell `item` (its line carries the item's title)."""
    return [n for n, r in enumerate(digests) if f"Title {item}" in r.body["text"]]


async def test_a_daily_digest_tells_each_event_once_across_the_boundary_and_restarts(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, receiver: FakeWebhook
) -> None:
    clock = SetClock(tmp_path / "clock", utc(2026, 3, 2, 8, 0))  # Monday, GMT; digest at 08:30
    env: dict[str, str] = {"HERALD_NOTIFIER_CLOCK_FILE": str(clock.path)}
    target = webhook("digest", receiver, env, digest={"every": "daily", "at": "08:30"})
    env.update(targets_file(tmp_path / "notifier.yaml", [target]))
    changelog = f"{herald_topics}herald-notifier-digest-notes-changelog"

    def start() -> Any:
        return start_service("notifier", kafka_bootstrap, herald_topics, state_dir, tmp_path, **env)

    async def kept(count: int) -> None:
        """Wait until the digest worker has kept `count` notes (its table's changelog says so)."""

        async def enough() -> bool:
            records = await raw_records(kafka_bootstrap, changelog, count=1000, timeout=1)
            return len({r.key for r in records if r.key.startswith(b'"digest|')}) >= count

        await wait_until(enough, timeout=60)

    notifier = start()
    try:
        async with EventProducer(
            kafka_bootstrap, source="/herald/tests", namespace=herald_topics
        ) as producer:
            await send_at(producer, POSTS, "item-a", posted("item-a"), utc(2026, 3, 2, 8, 10))
            await send_at(producer, POSTS, "item-b", failed("item-b"), utc(2026, 3, 2, 8, 20))
            await kept(2)
            notifier.kill()  # in the middle of the window
            clock.set(utc(2026, 3, 2, 8, 20))  # it runs on from here, through the restart
            await send_at(producer, POSTS, "item-c", held("item-c"), utc(2026, 3, 2, 8, 29, 59))
            notifier = start()
            await kept(3)
            clock.set(utc(2026, 3, 2, 8, 30, 30))  # the boundary, and the 30 s the digest settles
            await wait_until(lambda: len(to(receiver, "digest")) >= 1, timeout=60)
            [first] = to(receiver, "digest")
            assert first.body["event_type"] == "herald.notifier.digest"
            assert "Sun 01 Mar 08:30 – Mon 02 Mar 08:30 GMT" in first.body["headline"]
            text = first.body["text"]
            assert "What went out (1):" in text and "What failed (1):" in text and "What is held (1):" in text

            # One on the boundary (the new window's), one late: of the closed window, so told next.
            await send_at(producer, POSTS, "item-d", posted("item-d"), utc(2026, 3, 2, 8, 30))
            await send_at(producer, POSTS, "item-e", failed("item-e"), utc(2026, 3, 2, 8, 25))
            await kept(5)
            notifier.stop()  # down across the next boundary: one more event of the window meanwhile
            await send_at(producer, POSTS, "item-g", held("item-g"), utc(2026, 3, 3, 8, 29))
            clock.set(utc(2026, 3, 3, 8, 31))
            notifier = start()  # it reads its backlog (item-g) before it closes the window
            await wait_until(lambda: len(to(receiver, "digest")) >= 2, timeout=60)
            await send_at(producer, POSTS, "item-f", posted("item-f"), utc(2026, 3, 3, 9))
            await kept(7)  # the clock jumps: the note must be kept first, or it would be late
            clock.set(utc(2026, 3, 4, 8, 30, 30))
            await wait_until(lambda: len(to(receiver, "digest")) >= 3, timeout=60)

        digests = to(receiver, "digest")
        assert len(receiver.requests) == len(digests) == 3  # nothing at once; no digest twice
        assert len({r.headers["Idempotency-Key"] for r in digests}) == 3
        assert "Mon 02 Mar 08:30 – Tue 03 Mar 08:30 GMT" in digests[1].body["headline"]
        assert {item: in_digests(digests, f"item-{item}") for item in "abcdefg"} == {
            "a": [0],
            "b": [0],
            "c": [0],
            "d": [1],
            "e": [1],
            "f": [2],
            "g": [1],
        }
        sent = await collect_events(
            kafka_bootstrap,
            FORUM_ALERTS,
            namespace=herald_topics,
            count=3,
            where=lambda e: e.data["about_event_type"] == "herald.notifier.digest",
        )
        assert len(sent) == 3
    finally:
        notifier.stop()


def meeting(item_id: str, feed_id: str, when: datetime, update: bool = False) -> EventPayload:
    fields: dict[str, Any] = {
        "item_id": item_id,
        "feed_id": feed_id,
        "feed_url": f"https://council.example/{feed_id}.rss",
        "title": f"Forum meeting {item_id}",
        "link": f"https://council.example/{item_id}",
        "published": when,
        "content_hash": f"h-{when.isoformat()}",
    }
    if update:
        return FeedItemUpdated(
            **fields, previous_content_hash="h", changed_fields=["published"], detected_at=when
        )
    return FeedItemDiscovered(**fields, discovered_at=utc(2026, 3, 2, 9))


async def test_quiet_hours_and_reminders_wait_in_the_ledger_and_go_when_due(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, receiver: FakeWebhook
) -> None:
    clock = SetClock(tmp_path / "clock", utc(2026, 3, 2, 23, 0))  # Monday 23:00 GMT: quiet
    env: dict[str, str] = {"HERALD_NOTIFIER_CLOCK_FILE": str(clock.path)}
    quiet = {"start": "22:00", "end": "07:00", "except_severity": "error"}
    targets = [
        webhook("night", receiver, env, quiet_hours=quiet),
        webhook("events-now", receiver, env, items={"feeds": ["forum-events"]}),
        webhook("events-remind", receiver, env, items={"feeds": ["forum-events"], "remind_before": "1d"}),
    ]
    env.update(targets_file(tmp_path / "notifier.yaml", targets))
    notifier = start_service("notifier", kafka_bootstrap, herald_topics, state_dir, tmp_path, **env)
    try:
        async with EventProducer(
            kafka_bootstrap, source="/herald/tests", namespace=herald_topics
        ) as producer:
            info = await producer.send(POSTS, "item-q", published("item-q", "quiet please"))
            error = await producer.send(POSTS, "item-q", failed("item-q"))
            await producer.send(FEED_ITEMS, "meet-1", meeting("meet-1", "forum-events", utc(2026, 3, 5, 18)))
            await producer.send(FEED_ITEMS, "other", meeting("other", "news", utc(2026, 3, 5, 18)))
            await producer.send(FEED_ITEMS, "gone", meeting("gone", "forum-events", utc(2026, 3, 1, 18)))

            # The error goes out in quiet hours; the info, recorded before it, waits.
            await wait_until(lambda: len(to(receiver, "night")) >= 1)
            assert [r.body["event_id"] for r in to(receiver, "night")] == [error.id]
            # Routed items: announced at once to one target (the past one too), held to remind the other.
            await wait_until(lambda: len(to(receiver, "events-now")) >= 2)
            assert {r.body["headline"].split(":")[0] for r in to(receiver, "events-now")} == {
                "New from the feed"
            }
            assert not to(receiver, "events-remind")

            clock.set(utc(2026, 3, 3, 7, 0, 1))  # quiet hours are over
            await wait_until(lambda: len(to(receiver, "night")) >= 2)
            assert [r.body["event_id"] for r in to(receiver, "night")] == [error.id, info.id]

            # The meeting moves a day later before its reminder; a marker behind the change (same
            # partition) shows it was read.
            await producer.send(
                FEED_ITEMS, "meet-1", meeting("meet-1", "forum-events", utc(2026, 3, 6, 18), update=True)
            )
            await producer.send(FEED_ITEMS, "meet-1", meeting("marker", "forum-events", utc(2026, 3, 9, 18)))
            await wait_until(lambda: len(to(receiver, "events-now")) >= 3)
            clock.set(utc(2026, 3, 5, 18, 0, 1))  # past the old reminder time and the new one
            await wait_until(lambda: len(to(receiver, "events-remind")) >= 1)
        [reminder] = to(receiver, "events-remind")
        assert reminder.body["headline"] == (
            "Reminder: Forum meeting meet-1 — Friday 06 March 2026, 18:00 GMT"
        )
        told = await collect_events(kafka_bootstrap, FORUM_ALERTS, namespace=herald_topics, count=6)
        assert sorted(t for e in told for t in e.data["transports"]) == [
            "events-now",
            "events-now",
            "events-now",
            "events-remind",
            "night",
            "night",
        ]
    finally:
        notifier.stop()
