"""When each feed is polled next (pure), and the per-worker heap of due feeds.

Issue 5 §4: a per-feed interval with jitter; adaptive between bounds (a feed that changes is
polled more often, a quiet one less); exponential backoff on errors; the server's Retry-After
and Cache-Control max-age honoured. Adaptive bounds: the settings' min/max, but never further
than `ADAPTIVE_SPAN` times from the interval the subscription asked for (so "every 5 minutes"
stays meaningful), and the asked interval always lies inside them.

`DueHeap` holds only the feeds this worker owns, so the scheduler's tick costs O(due · log n),
not O(all feeds), and memory follows ownership.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

#: How far (×/÷) adaptive polling may move from a feed's own interval.
ADAPTIVE_SPAN = 4.0
#: Interval multiplier after a poll that found new or changed items, and after a quiet one.
FASTER, SLOWER = 0.5, 1.25


@dataclass(frozen=True)
class SchedulePolicy:
    min_interval: float = 60.0
    max_interval: float = 6 * 3600.0
    jitter: float = 0.0
    max_backoff: float = 6 * 3600.0
    broken_after: float = 24 * 3600.0

    def bounds(self, base: float) -> tuple[float, float]:
        """(lowest, highest) adaptive interval for a feed whose subscription asks for `base`."""
        low = min(base, max(self.min_interval, base / ADAPTIVE_SPAN))
        high = max(base, min(self.max_interval, base * ADAPTIVE_SPAN))
        return low, high

    def adapt(self, base: float, current: float | None, *, changed: bool) -> float:
        """The next interval: shorter after a change, longer after a quiet poll, within bounds."""
        low, high = self.bounds(base)
        current = min(max(current or base, low), high)
        return max(low, current * FASTER) if changed else min(high, current * SLOWER)

    def backoff(self, interval: float, failures: int) -> float:
        """interval × 2^(failures-1), capped (the cap never shortens the feed's own interval)."""
        return min(interval * 2 ** min(max(failures - 1, 0), 30), max(self.max_backoff, interval))

    def spread(self, delay: float, rand: float) -> float:
        """`delay` ± jitter; `rand` in [0, 1) comes from the caller (tests pass a fixed one)."""
        return max(0.0, delay * (1.0 + self.jitter * (2.0 * rand - 1.0)))


def honour_hint(delay: float, hint: float | None, *, cap: float) -> float:
    """Wait at least what the server asked (Retry-After, max-age), but never more than `cap`."""
    if hint is None or hint <= 0:
        return delay
    return max(delay, min(hint, cap))


class DueHeap:
    """Feed id → due time, with the earliest first. Lazy deletion: `_due` is the truth, heap
    entries that disagree with it are skipped, and the heap is compacted when stale entries pile up."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, feed_id: object) -> bool:
        return feed_id in self._due

    def set(self, feed_id: str, due: float) -> None:
        if self._due.get(feed_id) == due:
            return
        self._due[feed_id] = due
        heapq.heappush(self._heap, (due, feed_id))
        if len(self._heap) > 2 * len(self._due) + 64:
            self._compact()

    def discard(self, feed_id: str) -> None:
        self._due.pop(feed_id, None)

    def clear(self) -> None:
        self._heap.clear()
        self._due.clear()

    def due_at(self, feed_id: str) -> float | None:
        return self._due.get(feed_id)

    def pop_due(self, now: float, limit: int | None = None) -> list[str]:
        """Remove and return the feeds due at `now` (earliest first), at most `limit`."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now and (limit is None or len(out) < limit):
            due, feed_id = heapq.heappop(self._heap)
            if self._due.get(feed_id) == due:
                del self._due[feed_id]
                out.append(feed_id)
        return out

    def next_due(self) -> float | None:
        """The earliest due time, or None when no feed is scheduled."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # stale: the feed was re-set or discarded
        return self._heap[0][0] if self._heap else None

    def _compact(self) -> None:
        self._heap = [(due, feed_id) for feed_id, due in self._due.items()]
        heapq.heapify(self._heap)
