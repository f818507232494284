"""`herald preview --channel x ITEM_ID` renders a real item from Kafka through its route."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from shared.events import FeedItemDiscovered
from shared.producer import EventProducer
from shared.topics import FEED_ITEMS
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.integration


def preview(
    bootstrap: str, namespace: str, *args: str, config: Path | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap, "HERALD_TOPIC_NAMESPACE": namespace}
    if config is not None:
        env["HERALD_PUBLISHER_CONFIG"] = str(config)
    return subprocess.run(
        [sys.executable, "-m", "herald", "preview", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_preview_of_a_real_item_through_its_route(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
):
    item = FeedItemDiscovered(
        item_id="item-0123456789abcdef",
        feed_id="feed-travel",
        feed_url="https://www.lowshire.example/travel.rss",
        title="A38 closed northbound at Haldon Hill after a collision " * 5,
        link="https://www.lowshire.example/travel/a38-closure",
        tags=["roads", "travel"],
        content_hash="h",
        discovered_at=datetime.now(UTC),
    )
    async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=herald_topics) as producer:
        await producer.send(FEED_ITEMS, item.item_id, item)
    config = tmp_path / "publisher.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "routes": [
                    {
                        "feeds": ["feed-travel"],
                        "to": ["x:corporate"],
                        "prefix": "TRAVEL: ",
                        "template": "{title} {link} {hashtags}",
                        "hashtags": True,
                        "utm": {"utm_source": "x"},
                    }
                ]
            }
        )
    )
    result = preview(kafka_bootstrap, herald_topics, "--channel", "x", "--json", item.item_id, config=config)
    assert result.returncode == 0, result.stderr
    [rendered] = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    post = rendered["post"]
    assert post.startswith("TRAVEL: A38 closed northbound")
    assert "https://www.lowshire.example/travel/a38-closure?utm_source=x" in post
    # Too long: hashtags go whole (never cut), then the title is cut at a word, never the link.
    assert "#" not in post and "… https://www.lowshire.example/travel/" in post
    assert rendered["fits"] is True and rendered["weighted_length"] <= 280

    missing = preview(
        kafka_bootstrap, herald_topics, "--channel", "x", "item-ffffffffffffffff", config=config
    )
    assert missing.returncode == 1 and "no item item-ffffffffffffffff" in missing.stderr
    assert "Traceback" not in missing.stderr
