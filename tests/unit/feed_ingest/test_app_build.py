"""Building the feed_ingest runtime wires its parts and opens no connection."""

from __future__ import annotations

from pathlib import Path

from services.feed_ingest.app import create_runtime
from shared.settings import HeraldSettings
from shared.topics import FEED_POLLS, FEEDS


def test_create_runtime_registers_table_and_agents(tmp_path: Path):
    settings = HeraldSettings(state_dir=tmp_path, topic_namespace="unit.", feed_ingest_port=1)  # type: ignore[arg-type]
    runtime = create_runtime(settings, "127.0.0.1:1")  # nothing listens there: building must not connect
    app = runtime.app
    assert "feeds" in app.tables
    assert app.tables["feeds"].partitions == FEEDS.partitions
    # The agents' names are what faust knows them by across restarts and rebalances: kept.
    assert set(app.agents) == {"herald.feed_ingest.on_subscription", "herald.feed_ingest.poll"}
    topics = {topic for agent in app.agents.values() for topic in agent.channel.get_topic_name().split(",")}
    assert {"unit." + FEEDS.name, "unit." + FEED_POLLS.name} <= topics
    assert runtime.heartbeat_detail["owned_feeds"] == "0"
    assert not runtime.ready
