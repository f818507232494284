"""What a dead letter says about itself, and which ones a replay takes and where it sends them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.dead_letters import (
    REPLAYED_FROM_HEADER,
    DeadLetter,
    ReplayRefused,
    check_origin,
    choose,
    dead_letter_headers,
    reason_kind,
    summarise,
)

AT = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def letter(position: int, reason: str, value: bytes | None = b"{}", **origin: object) -> DeadLetter:
    headers = [("content-type", b"application/cloudevents+json")]
    headers += dead_letter_headers(reason, "publisher", "herald.feed-items", **origin)
    return DeadLetter(0, position, b"key", value, tuple(headers), AT + timedelta(minutes=position))


def test_headers_name_each_fact_and_are_read_back() -> None:
    dead = letter(3, "handler error: KeyError: 'x'", partition=5, offset=42, ledger_key="item|x:main")
    assert dead.id == "0-3"
    assert dead.reason == "handler error: KeyError: 'x'"
    assert dead.origin_topic == "herald.feed-items" and dead.origin_partition == 5
    assert dead.fact("ledger-key") == "item|x:main" and dead.fact("offset") == "42"


def test_the_event_type_comes_from_the_header_or_the_value_or_says_unreadable() -> None:
    typed = replace(letter(0, "r"), headers=(*letter(0, "r").headers, ("ce_type", b"herald.post.failed.v1")))
    assert typed.event_type == "herald.post.failed.v1"
    from_value = letter(1, "r", value=b'{"type": "herald.feed.item.discovered.v1", "id": "e1"}')
    assert from_value.event_type == "herald.feed.item.discovered.v1" and from_value.event_id == "e1"
    for junk in (b"{not json", b"\xff\xfe", b"[1, 2]", None):
        assert letter(2, "r", value=junk).event_type == "(unreadable)"
        assert letter(2, "r", value=junk).event_id is None


def test_a_replay_keeps_the_original_headers_drops_the_dead_letter_ones_and_says_whence() -> None:
    dead = letter(7, "r", partition=1)
    headers = dead.replay_headers("herald.dlq.publisher")
    assert headers == [
        ("content-type", b"application/cloudevents+json"),
        (REPLAYED_FROM_HEADER, b"herald.dlq.publisher/0-7"),
    ]
    twice = replace(dead, headers=tuple(headers)).replay_headers("herald.dlq.publisher")
    assert [key for key, _ in twice].count(REPLAYED_FROM_HEADER) == 1
    assert letter(8, "r").origin_partition is None  # none recorded: by key, as first sent


def test_the_age_is_never_negative() -> None:
    assert letter(0, "r").age(AT + timedelta(hours=2)) == timedelta(hours=2)
    assert letter(0, "r").age(AT - timedelta(seconds=5)) == timedelta(0)


def test_counts_group_by_type_and_reason_kind() -> None:
    letters = [
        letter(0, "handler error: KeyError: 'a'"),
        letter(1, "handler error: ValueError: b"),
        letter(2, "not a valid herald.feed.item.discovered.v1: title: field required"),
    ]
    groups = summarise(letters)
    assert [(g.reason_kind, g.count) for g in groups] == [
        ("handler error", 2),
        ("not a valid herald.feed.item.discovered.v1", 1),
    ]
    assert groups[0].oldest == AT and groups[0].newest == AT + timedelta(minutes=1)
    assert reason_kind("no colon here") == "no colon here"


def test_a_replay_takes_named_ones_or_all_and_refuses_neither_both_or_unknown() -> None:
    letters = [letter(0, "r"), letter(1, "r"), letter(2, "r")]
    assert choose(letters, [], everything=True) == letters
    assert [d.id for d in choose(letters, ["0-2", "0-0", "0-2"], everything=False)] == ["0-2", "0-0"]
    for ids, everything in (([], False), (["0-1"], True)):
        with pytest.raises(ReplayRefused, match="with --id, or replay them all with --all"):
            choose(letters, ids, everything=everything)
    with pytest.raises(ReplayRefused, match="no dead letter with id 0-9, 1-0"):
        choose(letters, ["0-1", "0-9", "1-0"], everything=False)


def test_a_replay_goes_only_to_a_topic_the_service_reads() -> None:
    assert check_origin(letter(0, "r"), {"herald.feed-items"}) == "herald.feed-items"
    with pytest.raises(ReplayRefused, match="which this service does not read"):
        check_origin(letter(0, "r"), {"herald.publisher.commands"})
    bare = replace(letter(0, "r"), headers=())
    with pytest.raises(ReplayRefused, match="does not say which topic"):
        check_origin(bare, {"herald.feed-items"})
