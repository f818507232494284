"""Whether a worker is alive and whether it is ready, decided from facts the runtime samples.

Two questions, two endpoints (as an orchestrator asks them):
- `/health`, **alive**: the event loop turns (a 1 s ticker is not late by more than
  `HERALD_HEALTH_LOOP_STALL_SECONDS`) and, while its flow is on, the consumer keeps fetching (a
  fetch returned within `HERALD_HEALTH_CONSUMER_STALL_SECONDS`). Failing it means "restart me".
- `/ready`, **ready**: start-up is over (the worker has joined its group and been given its
  share, which may be none: a standby directory worker serves reads and takes over when the
  decider dies), no rebalance or table recovery is under way, and it is caught up — no more than
  `HERALD_READY_MAX_LAG` records behind on the topics it reads. Failing it means "don't count on
  me yet" (a takeover, a backlog).

The deciders are pure: the facts come in a `Sample`, the clock with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sample:
    """What the runtime knows at one moment (monotonic seconds)."""

    now: float
    loop_tick_at: float
    loop_lag: float  # how late the last tick was
    started: bool  # start-up, recovery included, finished once
    flow_active: bool
    rebalancing: bool
    in_recovery: bool
    assigned: int  # stream partitions held (changelogs not counted)
    last_fetch_at: float | None  # None: no fetch has returned yet
    born_at: float  # when the worker's runtime was made: a first fetch is due within the limit
    lag: Mapping[str, int] = field(default_factory=dict)  # "topic[partition]" → records behind


@dataclass(frozen=True)
class Limits:
    loop_stall_seconds: float = 10.0
    consumer_stall_seconds: float = 60.0
    ready_max_lag: int = 1000


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reasons: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "reasons": list(self.reasons)}


def alive(sample: Sample, limits: Limits) -> Verdict:
    reasons = []
    loop_silent = sample.now - sample.loop_tick_at
    if max(loop_silent, sample.loop_lag) > limits.loop_stall_seconds:
        reasons.append(f"event loop stalled ({max(loop_silent, sample.loop_lag):.1f}s)")
    if sample.started and sample.flow_active and not sample.rebalancing:
        since = sample.now - (sample.last_fetch_at if sample.last_fetch_at is not None else sample.born_at)
        if since > limits.consumer_stall_seconds:
            reasons.append(f"consumer not fetching for {since:.0f}s")
    return Verdict(not reasons, tuple(reasons))


def ready(sample: Sample, limits: Limits) -> Verdict:
    reasons = []
    if not sample.started:
        reasons.append("starting")
    if sample.rebalancing:
        reasons.append("rebalancing")
    if sample.in_recovery:
        reasons.append("recovering tables")
    behind = total_lag(sample.lag)
    if behind > limits.ready_max_lag:
        reasons.append(f"{behind} records behind (more than {limits.ready_max_lag})")
    return Verdict(not reasons, tuple(reasons))


def total_lag(lag: Mapping[str, int]) -> int:
    return sum(lag.values())


def lag_by_partition(
    assigned: Iterable[tuple[str, int]],
    end_offsets: Mapping[tuple[str, int], int | None],
    committed: Mapping[tuple[str, int], int | None],
    read: Mapping[tuple[str, int], int | None],
) -> dict[str, int]:
    """Records behind per stream partition: the log end the consumer last saw minus the first
    offset not yet done (committed, or one past the last record read, whichever is further). A
    partition with neither is left out: where its log starts is unknown (retention may have
    deleted its first records), and guessing 0 would hold a worker "behind" for ever."""
    behind = {}
    for topic, partition in assigned:
        end = end_offsets.get((topic, partition))
        last_read = read.get((topic, partition))
        done_marks = [
            mark
            for mark in (committed.get((topic, partition)), None if last_read is None else last_read + 1)
            if mark is not None
        ]
        if end is None or not done_marks:
            continue
        behind[f"{topic}[{partition}]"] = max(end - max(done_marks), 0)
    return behind
