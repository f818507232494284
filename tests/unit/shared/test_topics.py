"""The topic catalogue is the only place topic names are spelled."""

from __future__ import annotations

import re
from pathlib import Path

from aiokafka.partitioner import DefaultPartitioner

from shared import topics
from shared.topics import ALL_TOPICS, FEED_HEALTH, FEED_ITEMS, FEEDS, OPS_HEARTBEAT, dead_letter

REPO = Path(__file__).resolve().parents[3]
TOPIC_LITERAL = re.compile(
    r"""["']({})["']|["']herald\.dlq\.""".format("|".join(re.escape(spec.name) for spec in ALL_TOPICS))
)


def test_no_topic_name_is_spelled_outside_the_catalogue() -> None:
    offenders = []
    for folder in ("services", "herald", "shared"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name == "topics.py" and path.parent.name == "shared":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if TOPIC_LITERAL.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []


def test_names_are_unique_and_valid_kafka_names() -> None:
    names = [spec.name for spec in ALL_TOPICS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-zA-Z0-9._-]{1,200}", name) for name in names)


def test_every_service_has_a_dead_letter_topic() -> None:
    assert dead_letter("publisher").name == "herald.dlq.publisher"
    assert dead_letter("publisher") in ALL_TOPICS


def test_namespace_prefixes_the_name_only() -> None:
    spaced = FEEDS.in_namespace("t1.")
    assert spaced.name == "t1.herald.feeds"
    assert spaced.partitions == FEEDS.partitions and spaced.cleanup_policy == "compact"


def test_compacted_topics_have_no_time_retention() -> None:
    for spec in ALL_TOPICS:
        if spec.cleanup_policy == "compact":
            assert "retention.ms" not in spec.kafka_config(), spec.name


def test_partition_for_is_where_the_producers_partitioner_puts_the_key() -> None:
    """The runtime tells the producer the partition (so it does not hash every record again):
    it must be the one aiokafka's default partitioner would choose, or a key's records would
    split across partitions (and lose their order) between Herald and other producers."""
    partitioner = DefaultPartitioner()
    keys = [f"feed-{n}".encode() for n in range(2000)] + ["fëed/ünïcode".encode(), b"", b"x" * 300]
    for spec in (FEED_HEALTH, FEED_ITEMS, OPS_HEARTBEAT):
        partitions = list(range(spec.partitions))
        for key in keys:
            assert spec.partition_for(key) == partitioner(key, partitions, partitions), key
            assert spec.partition_for(key) == partitioner(key, partitions, partitions), key  # remembered


def test_remembered_key_hashes_stay_bounded() -> None:
    for n in range(topics.KEY_HASHES_KEPT + 10):
        topics.key_hash(f"k{n}".encode())
    assert len(topics._key_hashes) <= topics.KEY_HASHES_KEPT
