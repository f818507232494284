"""The consumer Herald gives every faust app: built without connecting, with its fixes in place."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.types import TP

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


class _WaitingFetch:
    """The consumer thread's fetch while it waits for records: it drains, when it returns, the
    partitions in the set it was given (as aiokafka's `fetched_records` reads it on every pass)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def getmany(self, active_partitions: set[TP], timeout: float) -> dict[TP, list[object]]:
        await self.release.wait()
        return {tp: [] for tp in active_partitions}


@pytest.mark.asyncio
async def test_a_fetch_drains_only_the_partitions_active_when_it_began(tmp_path: Path) -> None:
    """faust empties and refills its active set during a rebalance; a fetch waiting through it
    must not drain the changelog partitions the recovery resumes meanwhile (their records would
    be thrown away with the stopped flow, and the recovery would wait for them for ever)."""
    settings = HeraldSettings(state_dir=tmp_path, topic_namespace="unit.")  # type: ignore[arg-type]
    consumer = ServiceRuntime("notifier", settings, bootstrap_servers="127.0.0.1:1").app.consumer
    fetch = _WaitingFetch()
    consumer._thread = fetch
    stream, changelog = TP("unit.herald.feeds", 0), TP("unit.herald-feed_ingest-feeds-changelog", 0)
    active = {stream}
    waiting = asyncio.ensure_future(consumer._getmany(active, 1.0))
    await asyncio.sleep(0)
    active.clear()  # the rebalance pauses everything
    active.add(changelog)  # the recovery resumes the changelog partition
    fetch.release.set()
    assert set(await waiting) == {stream}
