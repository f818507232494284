"""feed_ingest's HERALD_* options: read from the environment, and a bad value stops the worker
with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feed_ingest.app import create_runtime
from services.feed_ingest.fetch import DEFAULT_PER_HOST_LIMIT
from services.feed_ingest.options import OptionsError, load_options
from shared.settings import HeraldSettings


def test_per_host_concurrency_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_FEED_PER_HOST_CONCURRENCY", raising=False)
    assert load_options().feed_per_host_concurrency == DEFAULT_PER_HOST_LIMIT
    monkeypatch.setenv("HERALD_FEED_PER_HOST_CONCURRENCY", "3")
    assert load_options().feed_per_host_concurrency == 3


@pytest.mark.parametrize("value", ["0", "201", "many"])
def test_a_bad_per_host_concurrency_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HERALD_FEED_PER_HOST_CONCURRENCY", value)
    with pytest.raises(OptionsError) as refused:
        load_options()
    message = str(refused.value)
    assert message.startswith("HERALD_FEED_PER_HOST_CONCURRENCY: ") and "\n" not in message


def test_the_worker_stops_on_a_bad_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HERALD_FEED_PER_HOST_CONCURRENCY", "0")
    settings = HeraldSettings(state_dir=tmp_path, topic_namespace="unit.", feed_ingest_port=1)  # type: ignore[arg-type]
    with pytest.raises(SystemExit) as stopped:
        create_runtime(settings, "127.0.0.1:1")
    assert str(stopped.value) == (
        "herald feed_ingest: HERALD_FEED_PER_HOST_CONCURRENCY: Input should be greater than or equal to 1"
    )
