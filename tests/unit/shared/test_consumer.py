"""The consumer Herald gives every faust app: built without connecting, with its fixes in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.consumer import FETCH_MAX_WAIT_MS, RewindingConsumer
from shared.runtime import ServiceRuntime
from shared.settings import HeraldSettings


@pytest.mark.asyncio
async def test_the_aiokafka_consumer_waits_at_most_100_ms_for_a_fetch(tmp_path: Path) -> None:
    """faust hard-codes 1.5 s, which stalled consumers in bursts; a faust upgrade that renames the
    hook would silently bring the stalls back, so the built consumer is checked here."""
    settings = HeraldSettings(state_dir=tmp_path, topic_namespace="unit.")  # type: ignore[arg-type]
    runtime = ServiceRuntime("notifier", settings, bootstrap_servers="127.0.0.1:1")
    consumer = runtime.app.consumer
    assert isinstance(consumer, RewindingConsumer)
    aiokafka_consumer = consumer._thread._create_worker_consumer(runtime.app.transport)
    assert aiokafka_consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS == 100
