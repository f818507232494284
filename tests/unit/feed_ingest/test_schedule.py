"""Scheduling arithmetic and the due-heap. Plain data only."""

from __future__ import annotations

from services.feed_ingest.schedule import DueHeap, SchedulePolicy, honour_hint


def test_bounds_follow_settings_but_keep_the_feeds_own_interval_inside():
    policy = SchedulePolicy(min_interval=60, max_interval=3600)
    assert policy.bounds(300) == (75, 1200)
    assert policy.bounds(5) == (5, 20)  # a 5 s test feed: the 60 s minimum does not slow it
    assert policy.bounds(86400) == (21600, 86400)  # a daily feed: never faster than allowed by span


def test_backoff_doubles_and_is_capped():
    policy = SchedulePolicy(max_backoff=1000)
    assert [policy.backoff(100, n) for n in range(1, 6)] == [100, 200, 400, 800, 1000]
    assert policy.backoff(5000, 3) == 5000  # the cap never shortens the feed's own interval


def test_jitter_spreads_within_the_fraction():
    policy = SchedulePolicy(jitter=0.1)
    assert policy.spread(100, 0.0) == 90 and policy.spread(100, 0.5) == 100
    assert 109.9 < policy.spread(100, 0.999999) <= 110


def test_hints_wait_longer_but_are_capped():
    assert honour_hint(60, None, cap=600) == 60
    assert honour_hint(60, 120, cap=600) == 120
    assert honour_hint(60, 10_000, cap=600) == 600
    assert honour_hint(300, 120, cap=600) == 300


def test_due_heap_pops_due_feeds_in_order_and_skips_stale_entries():
    heap = DueHeap()
    heap.set("a", 30)
    heap.set("b", 10)
    heap.set("c", 20)
    heap.set("a", 5)  # rescheduled: the old entry is stale
    heap.discard("c")
    assert heap.pop_due(25) == ["a", "b"]
    assert heap.pop_due(100) == []
    assert len(heap) == 0


def test_due_heap_stays_compact_under_many_reschedules():
    heap = DueHeap()
    for n in range(10_000):
        heap.set(f"feed-{n % 10}", float(n))
    assert len(heap) == 10 and len(heap._heap) <= 2 * 10 + 64
    assert heap.pop_due(10_000, limit=3) == ["feed-0", "feed-1", "feed-2"]


def test_next_due_is_the_earliest_live_entry():
    heap = DueHeap()
    assert heap.next_due() is None
    heap.set("a", 30)
    heap.set("b", 10)
    heap.set("b", 40)  # rescheduled: its entry at 10 is stale
    assert heap.next_due() == 30
    heap.discard("a")
    assert heap.next_due() == 40
    assert heap.pop_due(40) == ["b"]
    assert heap.next_due() is None
