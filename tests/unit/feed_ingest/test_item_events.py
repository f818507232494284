"""A poll's item events: each carries everything the parsed item holds, the update as much as
the discovery; all are sent, then all acknowledgements awaited, and the poll keeps the
acknowledged prefix (`ItemPublisher.send_all`): what follows the first failure is retried on
the next poll (`Poller._partial`), so an item is never marked seen without having reached Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.feed_ingest.app import SERVICE
from services.feed_ingest.decide import Update
from services.feed_ingest.item_events import ItemPublisher
from services.feed_ingest.parse import ParsedEntry
from services.feed_ingest.state import FeedState, subscribe
from shared.events import FeedItemDiscovered, FeedItemUpdated, FeedSubscribed
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings

URL = "https://www.lowshire.gov.uk/news.rss"


NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)


def _publisher(
    tmp_path: Path, answers: list[str], payloads: list[Any] | None = None
) -> tuple[ItemPublisher, list[str]]:
    """An ItemPublisher whose runtime's `send` answers from a script (no broker): "ok", "refused"
    (the broker's acknowledgement fails) or "raise" (the producer will not take the record)."""
    settings = HeraldSettings(state_dir=tmp_path, topic_namespace="unit.", feed_ingest_port=1)  # type: ignore[arg-type]
    runtime = ServiceRuntime(SERVICE, settings, bootstrap_servers="127.0.0.1:1")  # never connects here
    sent: list[str] = []
    script = iter(answers)

    async def send(spec: Any, key: str, payload: Any) -> asyncio.Future[Any]:
        answer = next(script)
        if answer == "raise":
            raise RuntimeError("producer stopped")
        sent.append(key)
        if payloads is not None:
            payloads.append(payload)
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if answer == "ok":
            acknowledged.set_result(None)
        else:
            acknowledged.set_exception(RuntimeError("NotEnoughReplicas"))
        return acknowledged

    runtime.send = send  # type: ignore[method-assign]
    return ItemPublisher(runtime, clock=lambda: NOW), sent


def _state() -> FeedState:
    feed = FeedSubscribed(feed_id=feed_id_for(URL), url=URL, interval_seconds=300, subscribed_at=NOW)
    return subscribe(None, feed, partition=0, now=NOW)


#: An entry with every field set, none to its default.
ENTRY = ParsedEntry(
    item_id="item-new-guid",
    identity_keys=("item-new-guid",),
    title="Bin collections move to Tuesdays",
    link="https://www.lowshire.gov.uk/news/bins",
    summary="From 1 April bins are collected on Tuesdays.",
    author="Lowshire Council press office",
    tags=("waste", "bins"),
    image_urls=("https://www.lowshire.gov.uk/img/bin.jpg",),
    published=datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    updated=datetime(2026, 3, 3, 17, 5, tzinfo=UTC),
    content_hash="sha256:new",
    position=0,
    content_html='<p>From 1 April bins are collected on <b>Tuesdays</b>.</p><img src="https://www.lowshire.gov.uk/img/bin.jpg">',
)

ITEM_FIELDS: dict[str, Any] = {
    "feed_id": feed_id_for(URL),
    "feed_url": URL,
    "title": "Bin collections move to Tuesdays",
    "link": "https://www.lowshire.gov.uk/news/bins",
    "summary": "From 1 April bins are collected on Tuesdays.",
    "content_html": '<p>From 1 April bins are collected on <b>Tuesdays</b>.</p><img src="https://www.lowshire.gov.uk/img/bin.jpg">',
    "author": "Lowshire Council press office",
    "tags": ["waste", "bins"],
    "image_urls": ["https://www.lowshire.gov.uk/img/bin.jpg"],
    "published": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
    "updated": datetime(2026, 3, 3, 17, 5, tzinfo=UTC),
    "content_hash": "sha256:new",
}


async def test_a_discovered_item_carries_the_whole_parsed_item(tmp_path: Path) -> None:
    payloads: list[Any] = []
    items, sent = _publisher(tmp_path, ["ok"], payloads)
    assert await items.publish_new(_state(), (ENTRY,)) == 1
    assert sent == ["item-new-guid"]
    assert payloads == [FeedItemDiscovered(item_id="item-new-guid", **ITEM_FIELDS, discovered_at=NOW)]


async def test_an_updated_item_carries_the_whole_parsed_item_body_included(tmp_path: Path) -> None:
    payloads: list[Any] = []
    items, sent = _publisher(tmp_path, ["ok"], payloads)
    update = Update(
        entry=ENTRY,
        item_id="item-old-guid",  # announced under the id it had then
        previous_content_hash="sha256:old",
        changed_fields=("title", "summary"),
    )
    assert await items.publish_updates(_state(), (update,)) == 1
    assert sent == ["item-old-guid"]
    assert payloads == [
        FeedItemUpdated(
            item_id="item-old-guid",
            **ITEM_FIELDS,
            previous_content_hash="sha256:old",
            changed_fields=["title", "summary"],
            detected_at=NOW,
        )
    ]


@pytest.mark.parametrize(
    ("answers", "kept"),
    [
        (["ok", "ok", "ok", "ok"], 4),
        (["ok", "ok", "raise", "ok"], 2),  # the record after a refused one is still sent
        (["ok", "refused", "ok", "ok"], 1),
        (["refused", "ok", "ok", "ok"], 0),
    ],
)
async def test_the_acknowledged_prefix_is_kept(tmp_path: Path, answers: list[str], kept: int) -> None:
    items, sent = _publisher(tmp_path, answers)
    feed = FeedSubscribed(
        feed_id=feed_id_for(URL), url=URL, interval_seconds=300, subscribed_at=datetime.now(UTC)
    )
    state = subscribe(None, feed, partition=0, now=datetime.now(UTC))
    events = [(f"item-{n}", object()) for n in range(4)]
    assert await items.send_all(state, events) == kept
    assert sent == [
        key for key, answer in zip([k for k, _ in events], answers, strict=True) if answer != "raise"
    ]
