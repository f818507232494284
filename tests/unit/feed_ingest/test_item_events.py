"""A poll's item events are all sent, then all acknowledgements awaited; the poll keeps the
acknowledged prefix (`ItemPublisher.send_all`): what follows the first failure is retried on
the next poll (`Poller._partial`), so an item is never marked seen without having reached Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.feed_ingest.app import SERVICE
from services.feed_ingest.item_events import ItemPublisher
from services.feed_ingest.state import subscribe
from shared.events import FeedSubscribed
from shared.ids import feed_id_for
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings

URL = "https://www.lowshire.gov.uk/news.rss"


def _publisher(tmp_path: Path, answers: list[str]) -> tuple[ItemPublisher, list[str]]:
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
        acknowledged: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if answer == "ok":
            acknowledged.set_result(None)
        else:
            acknowledged.set_exception(RuntimeError("NotEnoughReplicas"))
        return acknowledged

    runtime.send = send  # type: ignore[method-assign]
    return ItemPublisher(runtime), sent


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
