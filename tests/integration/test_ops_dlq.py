"""`herald ops dlq list|replay` against a real publisher on the real broker: dead letters are listed
with their reason, type and age; a replay after a fix is handled; repeating it changes nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from shared.dead_letters import REPLAYED_FROM_HEADER, dead_letter_headers
from shared.envelope import wrap
from shared.producer import record_headers
from shared.topics import FEED_ITEMS, OPS_ERRORS, dead_letter
from tests.integration.test_publisher import (
    make_item,
    no_second_outcome,
    outcome,
    publisher_env,
    send,
    wait_all_consumed,
)
from tests.support.kafka import collect_events, raw_records
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess, run_herald

pytestmark = pytest.mark.integration


async def _put(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


def _listed(env: dict[str, str]) -> list[dict]:
    done = run_herald("ops", "dlq", "list", "publisher", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


async def test_dead_letters_are_listed_and_replayed_once(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    namespace = herald_topics
    items_topic = namespace + FEED_ITEMS.name
    dlq_topic = namespace + dead_letter("publisher").name
    port = free_port()
    outbox = state_dir / "outbox" / "x.jsonl"
    cli_env = {"HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HERALD_TOPIC_NAMESPACE": namespace}
    posted, lost = make_item("Library opening hours change"), make_item("Gritting routes for winter")

    service = ServiceProcess(
        "publisher", publisher_env(kafka_bootstrap, namespace, state_dir, port), port, tmp_path
    )
    service.start()
    try:
        # Something no version can read: the runtime dead-letters it and the consumer goes on.
        await _put(kafka_bootstrap, items_topic, b"{not json", b"junk", [])
        await send(kafka_bootstrap, namespace, posted)
        await outcome(kafka_bootstrap, namespace, posted)
        assert len(await raw_records(kafka_bootstrap, dlq_topic, count=1)) == 1
        errors = await collect_events(
            kafka_bootstrap,
            OPS_ERRORS,
            namespace=namespace,
            where=lambda e: e.data["kind"] == "dead_lettered",
        )
        assert errors, "a dead letter is an ops error"

        # Two valid events that an earlier version dead-lettered: one never handled, one handled since.
        for item in (lost, posted):
            envelope = wrap(item, source="/herald/publisher")
            headers = record_headers(envelope) + dead_letter_headers(
                "handler error: RuntimeError: a bug since fixed", "publisher", items_topic
            )
            await _put(kafka_bootstrap, dlq_topic, envelope.to_bytes(), item.item_id.encode(), headers)

        listed = _listed(cli_env)
        assert [row["event_type"] for row in listed] == [
            "(unreadable)",
            "herald.feed.item.discovered.v1",
            "herald.feed.item.discovered.v1",
        ]
        assert all(row["origin"] == items_topic and row["age_seconds"] >= 0 for row in listed)
        assert "handler error: RuntimeError" in listed[1]["reason"] and listed[0]["reason"]
        table = run_herald("ops", "dlq", "list", "publisher", env={**cli_env, "COLUMNS": "200"})
        assert "publisher: 3 dead letters" in table.stdout and "publisher by kind" in table.stdout

        # After the fix: the one never handled is posted, once.
        replayed = run_herald("ops", "dlq", "replay", "publisher", "--id", listed[1]["id"], env=cli_env)
        assert replayed.returncode == 0, replayed.stderr
        [published] = await outcome(kafka_bootstrap, namespace, lost)
        assert published.data["dry_run"] is True

        # Everything again: the junk is dead-lettered again, nothing is posted twice.
        again = run_herald("ops", "dlq", "replay", "publisher", "--all", env=cli_env)
        assert again.returncode == 0 and "replayed 3 dead letters" in again.stdout, again.stderr
        await wait_all_consumed(kafka_bootstrap, namespace)
        records = await raw_records(kafka_bootstrap, dlq_topic, count=4)
        assert len(records) == 4
        assert dict(records[3].headers)[REPLAYED_FROM_HEADER] == f"{dlq_topic}/{listed[0]['id']}".encode()
        lines = [json.loads(line)["item_id"] for line in outbox.read_text().splitlines()]
        assert sorted(lines) == sorted([posted.item_id, lost.item_id])
        assert await no_second_outcome(kafka_bootstrap, namespace, lost) == 1
        assert await no_second_outcome(kafka_bootstrap, namespace, posted) == 1
    except BaseException:
        print(service.tail(60))
        raise
    finally:
        service.stop()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "publisher"], "name the dead letters to replay with --id"),
        (["replay", "publisher", "--all", "--id", "0-0"], "name the dead letters to replay with --id"),
        (["replay", "publisher", "--id", "0-999"], "no dead letter with id 0-999"),
        (["replay", "mailroom", "--all"], "'mailroom' is no Herald service"),
        (["list", "mailroom"], "'mailroom' is no Herald service"),
    ],
)
def test_a_replay_that_names_nothing_or_nothing_known_is_one_line(
    kafka_bootstrap: str, herald_topics: str, args: list[str], message: str
) -> None:
    env = {"HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HERALD_TOPIC_NAMESPACE": herald_topics}
    done = run_herald("ops", "dlq", *args, env=env)
    assert done.returncode in (1, 2) and done.stdout == ""
    assert done.stderr.startswith("herald: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


async def test_a_dead_letter_from_a_topic_the_service_does_not_read_is_not_replayed(
    kafka_bootstrap: str, herald_topics: str
) -> None:
    """Headers are data: a dead letter claiming to come from a topic the service does not read is
    refused rather than written there."""
    dlq_topic = herald_topics + dead_letter("publisher").name
    headers = dead_letter_headers("tampered", "publisher", herald_topics + "herald.directory.commands")
    await _put(kafka_bootstrap, dlq_topic, b"{}", b"k", headers)
    env = {"HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HERALD_TOPIC_NAMESPACE": herald_topics}
    done = await asyncio.to_thread(run_herald, "ops", "dlq", "replay", "publisher", "--all", env=env)
    assert done.returncode == 1 and "which this service does not read" in done.stderr
    commands = herald_topics + "herald.directory.commands"
    assert await raw_records(kafka_bootstrap, commands, count=1, timeout=3) == []
