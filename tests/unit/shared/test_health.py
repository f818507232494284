"""When a worker is alive and when it is ready: the pure deciders over sampled facts."""

from __future__ import annotations

from dataclasses import replace

from shared.health import Limits, Sample, alive, lag_by_partition, ready

LIMITS = Limits(loop_stall_seconds=10, consumer_stall_seconds=60, ready_max_lag=100)
RUNNING = Sample(
    now=1000.0,
    loop_tick_at=999.5,
    loop_lag=0.01,
    started=True,
    flow_active=True,
    rebalancing=False,
    in_recovery=False,
    assigned=4,
    last_fetch_at=999.9,
    born_at=900.0,
    lag={"herald.feed-items[0]": 3, "herald.feed-items[1]": 0},
)


def test_a_running_caught_up_worker_is_alive_and_ready() -> None:
    assert alive(RUNNING, LIMITS).ok and ready(RUNNING, LIMITS).ok


def test_a_stuck_event_loop_is_not_alive() -> None:
    silent = replace(RUNNING, loop_tick_at=985.0)
    assert alive(silent, LIMITS).reasons == ("event loop stalled (15.0s)",)
    late = replace(RUNNING, loop_lag=12.5)
    assert alive(late, LIMITS).reasons == ("event loop stalled (12.5s)",)


def test_a_consumer_that_stopped_fetching_is_not_alive_unless_its_flow_is_off() -> None:
    stuck = replace(RUNNING, last_fetch_at=900.0)
    assert alive(stuck, LIMITS).reasons == ("consumer not fetching for 100s",)
    never = replace(stuck, last_fetch_at=None)
    assert alive(never, LIMITS).reasons == ("consumer not fetching for 100s",)
    assert alive(replace(never, born_at=990.0), LIMITS).ok  # its first fetch is not due yet
    assert alive(replace(stuck, flow_active=False), LIMITS).ok  # paused for a rebalance: waiting is right
    assert alive(replace(stuck, rebalancing=True), LIMITS).ok
    assert alive(replace(stuck, started=False), LIMITS).ok  # start-up is /ready's business


def test_not_ready_while_starting_rebalancing_recovering_unassigned_or_behind() -> None:
    assert ready(replace(RUNNING, started=False, assigned=0), LIMITS).reasons == ("starting",)
    assert ready(replace(RUNNING, rebalancing=True), LIMITS).reasons == ("rebalancing",)
    assert ready(replace(RUNNING, in_recovery=True), LIMITS).reasons == ("recovering tables",)
    assert ready(replace(RUNNING, assigned=0), LIMITS).ok  # a standby worker: joined, given nothing
    behind = replace(RUNNING, lag={"herald.posts[0]": 80, "herald.posts[1]": 21})
    assert ready(behind, LIMITS).reasons == ("101 records behind (more than 100)",)
    assert ready(replace(behind, lag={"herald.posts[0]": 100}), LIMITS).ok
    assert alive(behind, LIMITS).ok  # behind is not dead


def test_lag_counts_from_the_commit_or_past_the_last_read_and_skips_the_unknown() -> None:
    assigned = [("t", 0), ("t", 1), ("t", 2), ("t", 3), ("t", 4), ("t", 5)]
    ends = {("t", 0): 50, ("t", 1): 50, ("t", 2): 50, ("t", 3): None, ("t", 4): 9000, ("t", 5): 7}
    committed = {("t", 0): 40, ("t", 1): 10, ("t", 3): 5, ("t", 5): 9}
    read = {("t", 1): 44}
    assert lag_by_partition(assigned, ends, committed, read) == {"t[0]": 10, "t[1]": 5, "t[5]": 0}
    # t[2] and t[4]: nothing read or committed yet, so where the log starts is unknown (retention
    # may have deleted its first 9,000 records); t[3]: no end seen yet; t[5]: an end seen before
    # the last commit never makes lag negative.
