"""Per-account lanes: urgent first, never before a rate-limit reset or the spacing (fake clock)."""

from __future__ import annotations

import asyncio

from services.publisher.flow import AccountLane, next_send_at


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_next_send_at() -> None:
    assert next_send_at(blocked_until=0, last_sent=None, spacing=5) == 0
    assert next_send_at(blocked_until=0, last_sent=100, spacing=5) == 105
    assert next_send_at(blocked_until=200, last_sent=100, spacing=5) == 200


def test_urgent_jumps_the_queue_and_each_key_is_queued_once() -> None:
    lane = AccountLane("x:corporate", clock=Clock())
    assert lane.put("a") and lane.put("b") and not lane.put("a")
    lane.put("urgent", urgent=True)
    assert lane.pop_ready() == "urgent"
    lane.sent()  # the account answered: the rest may go at once
    assert [lane.pop_ready(), lane.pop_ready(), lane.pop_ready()] == ["a", "b", None]


def test_the_first_post_and_the_first_after_a_rate_limit_go_alone() -> None:
    clock = Clock()
    lane = AccountLane("x:a", clock=clock, margin=0.0)
    for key in "abcde":
        lane.put(key)
    assert lane.pop_ready() == "a" and lane.pop_ready() is None  # a probe: the others wait for it
    lane.sent()
    lane.done()
    assert [lane.pop_ready(), lane.pop_ready()] == ["b", "c"]  # several in flight now
    lane.block_until(clock.now + 5)  # c was refused with a reset time
    lane.done()
    lane.done()
    clock.now += 5
    assert lane.pop_ready() == "d" and lane.pop_ready() is None  # alone again after the wait
    lane.done()  # d failed without an answer (no `sent`): still one at a time
    assert lane.pop_ready() == "e"


def test_rate_limit_blocks_until_reset_plus_margin_and_nothing_is_dropped() -> None:
    clock = Clock()
    lane = AccountLane("x:corporate", clock=clock, sleep=clock.sleep, margin=0.5)
    lane.put("a")
    lane.note_rate_limit(remaining=0, reset_at=clock.now + 5)
    assert lane.pop_ready() is None and len(lane) == 1
    assert asyncio.run(lane.next_job()) == "a"
    assert clock.now >= 1_005.5


def test_remaining_above_zero_does_not_block() -> None:
    lane = AccountLane("x:a", clock=Clock())
    lane.note_rate_limit(remaining=3, reset_at=2_000.0)
    lane.put("a")
    assert lane.pop_ready() == "a"


def test_spacing_between_posts_and_urgent_arriving_during_the_wait_goes_first() -> None:
    clock = Clock()
    lane = AccountLane("x:a", spacing=30, clock=clock, sleep=clock.sleep)
    lane.put("first")
    assert lane.pop_ready() == "first"
    lane.sent()
    lane.put("second")
    lane.put("flood warning", urgent=True)
    assert asyncio.run(lane.next_job()) == "flood warning"
    assert clock.now == 1_030.0


def test_a_real_wait_is_woken_by_a_new_job() -> None:
    async def scenario() -> str:
        lane = AccountLane("x:a")
        waiter = asyncio.ensure_future(lane.next_job())
        await asyncio.sleep(0.01)
        lane.put("late")
        return await asyncio.wait_for(waiter, 2)

    assert asyncio.run(scenario()) == "late"
