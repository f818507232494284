"""The publisher as a real process recovering from what goes wrong (issue 4, point 5), against the
real broker and loopback X (TLS) and Mastodon servers:

- an intent without a result whose post X does not show on the timeline is held (`unconfirmed`)
  and ops are alerted — never posted blindly a second time;
- transient failures past `max_attempts` become PostFailed(retryable) plus a record on the
  publisher's dead-letter topic, and the next item is still posted;
- FeedItemUpdated is posted again only where the route asks for corrections;
- Mastodon: the Idempotency-Key is the ledger key, and a retry after a crash during the call uses
  the same key, so the instance keeps one status;
- a stop between a ledger record (posted, dropped) and its event (the item's offset or the
  person's command committed long before): the restarted publisher sends the missing event from
  the ledger, with no call to X.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from services.publisher.ledger import LEDGER_TABLE, LedgerEntry, LedgerState, ledger_key
from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered, FeedItemUpdated
from shared.producer import EventProducer
from shared.topics import FEED_ITEMS, OPS_ERRORS, POSTS, dead_letter
from tests.fakes.mastodon import TOKEN as MASTODON_TOKEN
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.integration.test_publisher import publisher_env
from tests.support.kafka import collect_events, raw_records, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess
from tests.support.publisher_harness import news_item as make_item

pytestmark = pytest.mark.integration

PUBLISHED = "herald.post.published.v1"
FAILED = "herald.post.failed.v1"
HELD = "herald.post.held.v1"
DROPPED = "herald.post.dropped.v1"
#: faust's own overrides: a SIGKILLed member holds its partitions until its session expires, and
#: 6 s is the broker's minimum, so the restart after a kill is short.
SHORT_SESSION = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}


def behind(item: FeedItemDiscovered, title: str) -> FeedItemDiscovered:
    """A new item on the same FEED_ITEMS partition as `item` (the producer's default partitioner):
    once it is handled, everything sent before it on that partition — a redelivery included — has
    been handled too. Deterministic, unlike waiting for an offset commit."""
    partitions = list(range(FEED_ITEMS.partitions))
    wanted = DefaultPartitioner()(item.item_id.encode(), partitions, partitions)
    while True:
        candidate = make_item(title, feed_id=item.feed_id)
        if DefaultPartitioner()(candidate.item_id.encode(), partitions, partitions) == wanted:
            return candidate


def updated(item: FeedItemDiscovered, title: str) -> FeedItemUpdated:
    return FeedItemUpdated(
        item_id=item.item_id,
        feed_id=item.feed_id,
        feed_url=item.feed_url,
        title=title,
        link=item.link,
        content_hash=uuid.uuid4().hex,
        previous_content_hash=item.content_hash,
        changed_fields=["title"],
        detected_at=datetime.now(UTC),
    )


async def send(bootstrap: str, namespace: str, *items: FeedItemDiscovered | FeedItemUpdated) -> None:
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        for item in items:
            await producer.send(FEED_ITEMS, item.item_id, item)


async def outcomes(
    bootstrap: str,
    namespace: str,
    item_id: str,
    *,
    kind: str | None = None,
    count: int = 1,
    within: float = 45,
) -> list[CloudEvent]:
    """The item's events on herald.posts (of one type if `kind`), up to `count` or the deadline."""
    return await collect_events(
        bootstrap,
        POSTS,
        namespace=namespace,
        count=count,
        where=lambda e: e.subject == item_id and (kind is None or e.type == kind),
        timeout=within,
    )


#: Two quick tries, then retries at most a second apart: an outage test's pace.
FAST_RETRIES = {
    "HERALD_PUBLISHER_MAX_ATTEMPTS": "2",
    "HERALD_PUBLISHER_BACKOFF_BASE_SECONDS": "0.2",
    "HERALD_PUBLISHER_RETRY_CAP_SECONDS": "1",
}


def x_env(bootstrap: str, namespace: str, state_dir: Path, port: int, fake: FakeXApi, **extra: str) -> dict:
    return publisher_env(
        bootstrap,
        namespace,
        state_dir,
        port,
        HERALD_X_API_BASE_URL=fake.base_url,
        HERALD_X_CA_BUNDLE=str(fake.ca_path),
        **CREDENTIALS,
        **SHORT_SESSION,
        **extra,
    )


def write_config(tmp_path: Path, config: dict[str, Any]) -> str:
    path = tmp_path / f"publisher-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


async def kill_while_x_holds_the_call(
    env: dict, port: int, tmp_path: Path, fake_x: FakeXApi, item: FeedItemDiscovered, *, accept: bool
) -> None:
    """SIGKILL the publisher while X holds its call for `item`; then X takes the post (`accept`) or
    never does: the intent is on the broker, the result never will be."""
    namespace = env["HERALD_TOPIC_NAMESPACE"]
    fake_x.script("hang")
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(env["HERALD_KAFKA_BOOTSTRAP_SERVERS"], namespace, item)
        await wait_until(lambda: fake_x.in_flight == 1, timeout=30)
        service.kill()
        if accept:
            fake_x.release()
            await wait_until(lambda: fake_x.texts() == [f"{item.title} {item.link}"], timeout=10)
        else:
            fake_x.drop_held_call()
    finally:
        service.stop()


async def test_a_lost_answer_x_refuses_again_as_a_duplicate_is_looked_up_or_held_never_posted_twice(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    """X took the post but its timeline does not show it: looked at twice (the settle delay between),
    then posted again under X's duplicate guard — X refuses it, so the first call did post; the
    timeline still cannot show it, so it is held for a person with that said, ops get
    `post_unconfirmed`, and X has exactly one post."""
    namespace = herald_topics
    port = free_port()
    env = x_env(kafka_bootstrap, namespace, state_dir, port, fake_x, HERALD_PUBLISHER_SETTLE_SECONDS="0.5")
    item = make_item("Gritting routes tonight")
    text = f"{item.title} {item.link}"
    fake_x.hide_timeline()
    await kill_while_x_holds_the_call(env, port, tmp_path, fake_x, item, accept=True)

    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        [held] = await outcomes(kafka_bootstrap, namespace, item.item_id, kind=HELD)
        assert held.data["rule"] == "unconfirmed", held.data
        assert "refused a second copy as a duplicate, so the first call did post" in held.data["reason"]
        assert held.data["channel"] == "x" and held.data["text"] == text
        errors = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=namespace,
            where=lambda e: e.data.get("kind") == "post_unconfirmed" and item.item_id in e.data["message"],
            timeout=15,
        )
        assert len(errors) == 1 and errors[0].type == "herald.ops.error.v1"
        after = behind(item, "Gritting routes: a follow-up")  # so the redelivery was handled too
        await send(kafka_bootstrap, namespace, after)
        await outcomes(kafka_bootstrap, namespace, after.item_id, kind=PUBLISHED)
        assert fake_x.texts() == [text, f"{after.title} {after.link}"]  # one post each
        assert [call.status for call in fake_x.calls if call.text == text] == [201, 403]
        assert fake_x.timeline_reads >= 3  # two looks before the guarded retry, one after
        events = await outcomes(kafka_bootstrap, namespace, item.item_id, count=2, within=3)
        assert [event.type for event in events] == [HELD]  # nothing published, nothing failed
    finally:
        service.stop()


async def test_a_lost_answer_is_settled_by_machine_whether_x_took_the_post_or_not(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    """Two calls whose answers were lost: one X took (its timeline shows it only after a while),
    one X never got. Both end published once, with nobody asked: the first found on the second
    look, the second posted again under X's duplicate guard."""
    namespace = herald_topics
    port = free_port()
    env = x_env(kafka_bootstrap, namespace, state_dir, port, fake_x, HERALD_PUBLISHER_SETTLE_SECONDS="1")
    took, lost = make_item("Bus timetable changes"), make_item("Bridge closed for repairs")
    fake_x.hide_timeline()
    await kill_while_x_holds_the_call(env, port, tmp_path, fake_x, took, accept=True)
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await wait_until(lambda: fake_x.timeline_reads >= 1, timeout=60)  # the first look: not shown yet
        fake_x.hide_timeline(False)
        [found] = await outcomes(kafka_bootstrap, namespace, took.item_id, kind=PUBLISHED)
        assert found.data["post_id"] == fake_x.posts[0]["id"]
    finally:
        service.stop()
    await kill_while_x_holds_the_call(env, port, tmp_path, fake_x, lost, accept=False)
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        [posted] = await outcomes(kafka_bootstrap, namespace, lost.item_id, kind=PUBLISHED)
        assert sorted(fake_x.texts()) == sorted(f"{i.title} {i.link}" for i in (took, lost))  # once each
        assert posted.data["post_id"] == fake_x.posts[1]["id"]
        for item in (took, lost):
            events = await outcomes(kafka_bootstrap, namespace, item.item_id, count=2, within=2)
            assert [e.type for e in events] == [PUBLISHED]
    finally:
        service.stop()


async def test_an_outage_strands_nothing_the_forum_hears_once_and_the_post_goes_out_after_it(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    """X answers 500 to everything: after the first tries the forum hears once that Herald keeps
    trying (and until when); nothing is dead-lettered; other items are not held up; when X
    recovers the post goes out by itself, once."""
    namespace = herald_topics
    port = free_port()
    env = x_env(kafka_bootstrap, namespace, state_dir, port, fake_x, **FAST_RETRIES)
    bad = make_item("Household waste recycling centre closed")
    bad_text = f"{bad.title} {bad.link}"
    fake_x.fail_every_call("500")
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, namespace, bad)
        [failed] = await outcomes(kafka_bootstrap, namespace, bad.item_id, kind=FAILED)
        assert failed.data["retryable"] is True, failed.data
        assert failed.data["error_code"] == "http_500" and failed.data["attempts"] == 2
        assert failed.data["reason"].startswith("500"), failed.data  # X's answer, as the API gave it
        until = datetime.fromisoformat(failed.data["retry_until"])
        assert (
            timedelta(hours=23)
            < until - datetime.fromisoformat(failed.data["failed_at"])
            <= timedelta(hours=24)
        )
        await wait_until(
            lambda: [c.text for c in fake_x.calls].count(bad_text) >= 4, timeout=30
        )  # still trying

        fake_x.fail_every_call(None)
        good = make_item("Library opening hours over Christmas")
        await send(kafka_bootstrap, namespace, good)
        await outcomes(kafka_bootstrap, namespace, good.item_id, kind=PUBLISHED)
        [published] = await outcomes(kafka_bootstrap, namespace, bad.item_id, kind=PUBLISHED)
        assert sorted(fake_x.texts()) == sorted([bad_text, f"{good.title} {good.link}"])  # each once
        events = await outcomes(kafka_bootstrap, namespace, bad.item_id, count=3, within=3)
        assert [e.type for e in events] == [FAILED, PUBLISHED], "told once it was failing, once it went out"
        assert published.data["post_id"] in {post["id"] for post in fake_x.posts}
        dead = await raw_records(
            kafka_bootstrap, namespace + dead_letter("publisher").name, count=1, timeout=2
        )
        assert dead == []
    finally:
        service.stop()


async def test_past_the_give_up_age_the_post_is_held_for_a_person_with_the_reason(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    namespace = herald_topics
    port = free_port()
    env = x_env(
        kafka_bootstrap,
        namespace,
        state_dir,
        port,
        fake_x,
        **FAST_RETRIES,
        HERALD_PUBLISHER_GIVE_UP_SECONDS="3",
    )
    bad = make_item("Park and ride suspended")
    fake_x.fail_every_call("500")
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, namespace, bad)
        [held] = await outcomes(kafka_bootstrap, namespace, bad.item_id, kind=HELD)
        assert held.data["rule"] == "gave_up", held.data
        assert held.data["reason"].startswith("x:corporate kept failing for 0.0 h (http_500: 500"), held.data
        assert held.data["reason"].endswith("approve to try again")
        errors = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=namespace,
            where=lambda e: e.data.get("kind") == "post_gave_up" and bad.item_id in e.data["message"],
            timeout=15,
        )
        assert len(errors) == 1
        tries = len(fake_x.calls)
        assert tries >= 3
        later = await outcomes(kafka_bootstrap, namespace, bad.item_id, count=3, within=3)
        assert [e.type for e in later] == [FAILED, HELD] and len(fake_x.calls) == tries  # no more tries
    finally:
        service.stop()


async def test_updates_are_posted_again_only_where_the_route_asks_for_corrections(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi
) -> None:
    namespace = herald_topics
    port = free_port()
    config = {
        "routes": [
            {"name": "corrected", "feeds": ["feed-corrected"], "to": ["x:corporate"], "corrections": True},
            {"name": "plain", "feeds": ["feed-plain"], "to": ["x:corporate"]},
        ]
    }
    env = x_env(
        kafka_bootstrap,
        namespace,
        state_dir,
        port,
        fake_x,
        HERALD_PUBLISHER_CONFIG=write_config(tmp_path, config),
    )
    corrected = make_item("Consultation closes on 3 March", feed_id="feed-corrected")
    plain = make_item("Car park charges review", feed_id="feed-plain")
    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, namespace, corrected, plain)
        await outcomes(kafka_bootstrap, namespace, corrected.item_id, kind=PUBLISHED)
        await outcomes(kafka_bootstrap, namespace, plain.item_id, kind=PUBLISHED)
        assert len(fake_x.posts) == 2

        correction = updated(corrected, "Consultation closes on 10 March")
        unrouted = updated(plain, "Car park charges review postponed")
        # The correction twice (a redelivery): posted once all the same.
        await send(kafka_bootstrap, namespace, correction, unrouted, correction)
        first, second = await outcomes(kafka_bootstrap, namespace, corrected.item_id, kind=PUBLISHED, count=2)
        correction_text = f"{correction.title} {correction.link}"
        assert second.data["text"] == correction_text and second.data["post_id"] != first.data["post_id"]

        # Items behind the updates on their partitions: once they are posted, both updates (and
        # the repeated correction) have been handled.
        followers = [behind(plain, "Parking permits renewed"), behind(corrected, "Consultation results")]
        await send(kafka_bootstrap, namespace, *followers)
        for follower in followers:
            await outcomes(kafka_bootstrap, namespace, follower.item_id, kind=PUBLISHED)
        # Two items sent together may go out in either order (different partitions, posts in
        # flight at once); the correction came after both.
        texts = fake_x.texts()
        assert sorted(texts[:2]) == sorted(
            [f"{corrected.title} {corrected.link}", f"{plain.title} {plain.link}"]
        )
        assert texts[2] == correction_text
        assert len(fake_x.posts) == 5
        assert not any(unrouted.title in (call.text or "") for call in fake_x.calls)
        assert len(await outcomes(kafka_bootstrap, namespace, plain.item_id, count=2, within=3)) == 1
        assert len(await outcomes(kafka_bootstrap, namespace, corrected.item_id, count=3, within=3)) == 2
    finally:
        service.stop()


async def test_mastodon_retry_after_a_crash_uses_the_same_idempotency_key(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    namespace = herald_topics
    port = free_port()
    with FakeMastodon() as fake:
        config = {
            "accounts": [
                {
                    "name": "council",
                    "kind": "mastodon",
                    "base_url": fake.base_url,
                    "credentials": {"access_token": {"env": "HERALD_MASTODON_TOKEN"}},
                }
            ],
            "routes": [{"feeds": ["*"], "to": ["mastodon:council"]}],
        }
        env = publisher_env(
            kafka_bootstrap,
            namespace,
            state_dir,
            port,
            HERALD_PUBLISHER_CONFIG=write_config(tmp_path, config),
            HERALD_MASTODON_TOKEN=MASTODON_TOKEN,
            **SHORT_SESSION,
        )
        first = make_item("Winter fuel advice")
        second = make_item("Flood alert: river Otter")
        first_key = f"{first.item_id}|mastodon:council"
        second_key = f"{second.item_id}|mastodon:council"
        service = ServiceProcess("publisher", env, port, tmp_path).start()
        try:
            await send(kafka_bootstrap, namespace, first)
            [published] = await outcomes(kafka_bootstrap, namespace, first.item_id, kind=PUBLISHED)
            assert published.data["channel"] == "mastodon" and published.data["account"] == "council"
            assert fake.idempotency_keys_seen == [first_key]  # the ledger key
            assert published.data["post_id"] == fake.statuses[0]["id"]

            # SIGKILL while the instance holds the status call; it then makes the status, and its
            # account timeline does not show it, so only the idempotency key can prevent a double.
            fake.script("hang")
            fake.hide_statuses = True
            await send(kafka_bootstrap, namespace, second)
            await wait_until(lambda: fake.in_flight == 1, timeout=30)
            service.kill()
            fake.release()
            await wait_until(lambda: len(fake.statuses) == 2, timeout=10)
        finally:
            service.stop()

        service = ServiceProcess("publisher", env, port, tmp_path).start()
        try:
            [published] = await outcomes(kafka_bootstrap, namespace, second.item_id, kind=PUBLISHED)
            assert fake.idempotency_keys_seen == [first_key, second_key, second_key]
            assert len(fake.statuses) == 2 and fake.texts()[1] == f"{second.title} {second.link}"
            assert published.data["post_id"] == fake.statuses[1]["id"]
            after = behind(second, "Flood alert lifted")  # so the redelivery of `second` was handled
            await send(kafka_bootstrap, namespace, after)
            await outcomes(kafka_bootstrap, namespace, after.item_id, kind=PUBLISHED)
            assert fake.status_calls == 4 and len(fake.statuses) == 3
            assert fake.idempotency_keys_seen[:3] == [first_key, second_key, second_key]
        finally:
            service.stop()


def partition_of(item_id: str) -> int:
    """The FEED_ITEMS partition of an item (the producer's default partitioner), which is also its
    ledger changelog partition."""
    partitions = list(range(FEED_ITEMS.partitions))
    return DefaultPartitioner()(item_id.encode(), partitions, partitions)


@pytest.mark.parametrize("outcome", ["posted", "dropped"])
async def test_a_result_recorded_but_never_told_is_told_after_a_restart(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, fake_x: FakeXApi, outcome: str
) -> None:
    """The state a SIGKILL leaves between a ledger record and its event — `posted` before
    PostPublished (kill test seed 944686287), `dropped` before PostDropped. The item's offset (or
    the person's command) was committed long before, so no redelivery will come: the restarted
    publisher must send the event from the ledger, and call X not at all."""
    namespace = herald_topics
    port = free_port()
    env = x_env(kafka_bootstrap, namespace, state_dir, port, fake_x)
    service = ServiceProcess("publisher", env, port, tmp_path).start()  # creates the changelog topic
    service.stop()

    item = make_item("Library opening hours over Christmas")
    key = ledger_key(item.item_id, "x", "corporate")
    long_ago = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    queued = LedgerEntry.queued(
        f"{item.title} {item.link}",
        target="x:corporate",
        partition=partition_of(item.item_id),
        item=item.model_dump(mode="json"),
        item_type=item.event_type,
        urgent=False,
        link=item.link,
    )
    if outcome == "posted":
        entry = queued.posted(post_id="1890000000000000001", post_url=None, dry_run=False, attempts=1)
        expected = PUBLISHED
    else:
        held = queued.held(rule="keyword", reason="matched 'strike'", release_at=None)
        entry = held.to_state(LedgerState.DROPPED, reason="not for today", dropped_by="comms-duty")
        expected = DROPPED
    entry = LedgerEntry.from_json({**entry.to_json(), "updated_at": long_ago, "posted_at": long_ago})
    assert not entry.event_sent
    changelog = f"{namespace}herald-publisher-{LEDGER_TABLE}-changelog"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            changelog,
            key=json.dumps(key).encode(),
            value=json.dumps(entry.to_json()).encode(),
            partition=entry.partition,
        )
    finally:
        await producer.stop()

    service = ServiceProcess("publisher", env, port, tmp_path).start()
    try:
        [told] = await outcomes(kafka_bootstrap, namespace, item.item_id, kind=expected)
        if outcome == "posted":
            assert told.data["post_id"] == "1890000000000000001"
            assert told.data["text"] == f"{item.title} {item.link}"
        else:
            assert told.data["dropped_by"] == "comms-duty" and told.data["reason"] == "not for today"
        # Told once: the mark that it was sent holds across later sweeps.
        events = await outcomes(kafka_bootstrap, namespace, item.item_id, count=2, within=4)
        assert [event.type for event in events] == [expected]
        assert fake_x.calls == []
    finally:
        service.stop()
