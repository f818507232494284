"""`HostLimiter`: at most `limit` fetches per host at once, and no entry left for an idle host
(a waiter that is cancelled included), so memory does not grow with every host ever fetched."""

from __future__ import annotations

import asyncio

import pytest

from services.feed_ingest.fetch import HostLimiter


async def test_at_most_limit_per_host_and_nothing_left_when_idle() -> None:
    limiter = HostLimiter(2)
    inside: dict[str, int] = {"a": 0, "b": 0}
    most: dict[str, int] = {"a": 0, "b": 0}

    async def fetch(host: str) -> None:
        async with limiter.slot(host):
            inside[host] += 1
            most[host] = max(most[host], inside[host])
            await asyncio.sleep(0.001)
            inside[host] -= 1

    await asyncio.gather(*(fetch(host) for host in ["a", "b"] * 6))
    assert most == {"a": 2, "b": 2}
    assert len(limiter) == 0


async def test_a_cancelled_waiter_leaves_no_entry() -> None:
    limiter = HostLimiter(1)
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("a"):
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold())
    await holding.wait()
    waiter = asyncio.create_task(limiter.slot("a").__aenter__())
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    release.set()
    await holder
    assert len(limiter) == 0
    async with limiter.slot("a"):  # the host can be used again
        assert len(limiter) == 1
    assert len(limiter) == 0


async def test_a_turn_that_would_come_after_the_fetch_deadline_is_a_timeout() -> None:
    """A fetch queued behind a slow host gives up at its own deadline (the fetcher reports it as
    the total timeout), and leaves no entry behind; a free turn is taken whatever the deadline."""
    limiter = HostLimiter(1)
    loop = asyncio.get_running_loop()
    slot = limiter.slot("slow.example")
    await slot.acquire(deadline=loop.time() - 1)  # free: taken, even past the deadline
    with pytest.raises(TimeoutError):
        await limiter.slot("slow.example").acquire(deadline=loop.time() + 0.05)
    slot.release()
    assert len(limiter) == 0
