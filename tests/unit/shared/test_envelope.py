"""The CloudEvents envelope: what goes out, and the specific reason when a record can't be read."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.envelope import EventDecodeError, decode, encode, wrap
from shared.events import FeedItemDiscovered, FeedSubscribed, PostPublished
from shared.topics import FEEDS


def _subscribed() -> FeedSubscribed:
    return FeedSubscribed(
        feed_id="feed-1",
        url="https://www.devon.gov.uk/news/feed",
        interval_seconds=60,
        subscribed_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


def test_wrap_fills_the_cloudevents_attributes() -> None:
    envelope = wrap(_subscribed(), source="/herald/cli")
    document = json.loads(envelope.to_bytes())
    assert document["specversion"] == "1.0"
    assert document["type"] == "herald.feed.subscribed.v1"
    assert document["source"] == "/herald/cli"
    assert document["subject"] == "feed-1"
    assert document["datacontenttype"] == "application/json"
    assert document["time"].endswith("Z")
    assert document["data"]["url"] == "https://www.devon.gov.uk/news/feed"


@pytest.mark.parametrize(
    "when",
    [datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)],
)
def test_encode_writes_the_document_wrap_writes(when: datetime) -> None:
    """`encode` (the producers' fast path) and `wrap(...).to_bytes()` agree on every attribute but
    the fresh id, byte for byte apart from it; the record decodes to the same payload."""
    item = FeedItemDiscovered(
        item_id='item-"quoted" é 漢',
        feed_id="feed-1",
        feed_url="https://www.devon.gov.uk/news/feed",
        title="Roadworks on the A30 — “update”\n",
        link=None,
        tags=["roads", "é"],
        published=None,
        content_hash="abc",
        discovered_at=when,
    )
    fast, slow = (
        encode(item, source="/herald/feed_ingest", time=when),
        wrap(item, source="/herald/feed_ingest", time=when),
    )
    fast_document, slow_document = json.loads(fast), json.loads(slow.to_bytes())
    assert fast_document.pop("id") != slow_document.pop("id")
    assert fast_document == slow_document
    assert fast.replace(json.loads(fast)["id"].encode(), slow.id.encode()) == slow.to_bytes()
    envelope, payload = decode(fast, {FeedItemDiscovered.event_type: FeedItemDiscovered})
    assert payload == item and envelope.subject == item.item_id


def test_event_ids_are_version_4_uuids_and_distinct() -> None:
    ids = [json.loads(encode(_subscribed(), source="/s"))["id"] for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(value)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == value  # the canonical text form


def test_round_trip() -> None:
    envelope = wrap(_subscribed(), source="/herald/cli")
    decoded, payload = decode(envelope.to_bytes(), FEEDS.accepts)
    assert decoded.id == envelope.id
    assert payload == _subscribed()


def test_unknown_fields_are_ignored_so_producers_can_add_fields() -> None:
    document = json.loads(wrap(_subscribed(), source="/x").to_bytes())
    document["data"]["new_optional_field"] = 1
    _, payload = decode(json.dumps(document).encode(), FEEDS.accepts)
    assert payload.feed_id == "feed-1"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty record value"),
        (b"\xff\xfe", "value is not JSON"),
        (b"not json", "value is not JSON"),
        (b'{"specversion": "1.0"}', "not a CloudEvents 1.0 envelope: id: Field required"),
        (
            b'{"specversion":"0.3","id":"1","source":"/s","type":"t","time":"2026-01-01T00:00:00Z","data":{}}',
            "not a CloudEvents 1.0 envelope: specversion",
        ),
    ],
)
def test_unreadable_records_say_why(raw: bytes | None, reason: str) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode(raw, FEEDS.accepts)
    assert caught.value.reason.startswith(reason)


def test_wrong_type_for_the_topic_is_an_error() -> None:
    post = PostPublished(
        item_id="i",
        channel="x",
        account="corporate",
        post_id="1",
        text="t",
        dry_run=True,
        published_at=datetime.now(UTC),
    )
    with pytest.raises(EventDecodeError, match="unexpected event type 'herald.post.published.v1'"):
        decode(wrap(post, source="/p").to_bytes(), FEEDS.accepts)


def test_invalid_data_names_the_field() -> None:
    document = json.loads(wrap(_subscribed(), source="/x").to_bytes())
    document["data"]["url"] = "ftp://example.org/feed"
    with pytest.raises(EventDecodeError, match=r"invalid herald.feed.subscribed.v1 data: url: URL scheme"):
        decode(json.dumps(document).encode(), FEEDS.accepts)
