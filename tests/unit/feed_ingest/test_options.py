"""feed_ingest's per-host limit is a real setting: read like every other, bounded by the pool, and
what the fetcher holds each host to."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feed_ingest.fetch import POOL_LIMIT, FeedFetcher
from shared.settings import SettingsError, load_settings


def test_per_host_concurrency_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HERALD_FEED_PER_HOST_CONCURRENCY", raising=False)
    assert FeedFetcher(load_settings(state_dir=tmp_path)).hosts.limit == 8
    monkeypatch.setenv("HERALD_FEED_PER_HOST_CONCURRENCY", "3")
    assert FeedFetcher(load_settings(state_dir=tmp_path)).hosts.limit == 3


@pytest.mark.parametrize("value", ["0", str(POOL_LIMIT + 1), "many"])
def test_a_bad_per_host_concurrency_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HERALD_FEED_PER_HOST_CONCURRENCY", value)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert message.startswith("HERALD_FEED_PER_HOST_CONCURRENCY: ") and "\n" not in message
