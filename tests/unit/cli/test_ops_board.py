"""`herald ops tail`'s model: staleness from each worker's own interval, throughput between beats,
failing feeds first, held posts and dead letters counted."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from rich.console import Console

from herald.ops_board import OpsBoard
from shared.events import FeedPolled, PostHeld, PostPublished, ServiceHeartbeat

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def beat(
    status: str = "ready", *, handled: int | None = None, interval: float | None = 15.0
) -> ServiceHeartbeat:
    return ServiceHeartbeat(
        service="notifier",
        instance="a",
        status=status,  # type: ignore[arg-type]
        started_at=T0,
        uptime_seconds=1,
        version="t",
        interval_seconds=interval,
        events_handled=handled,
    )


def screen(board: OpsBoard, now: datetime) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(board.render(now))
    return console.export_text()


def test_a_worker_is_stale_after_three_of_its_own_intervals_and_a_stopped_one_never() -> None:
    board = OpsBoard()
    board.apply(beat(interval=10), T0)
    worker = board.workers["notifier/a"]
    assert board.status_of(worker, T0 + timedelta(seconds=30)) == "ready"
    assert board.status_of(worker, T0 + timedelta(seconds=31)) == "STALE"
    board.apply(beat(interval=None), T0)  # an older worker without an interval: the default 15 s
    assert board.status_of(board.workers["notifier/a"], T0 + timedelta(seconds=44)) == "ready"
    board.apply(beat("stopping"), T0)
    assert board.status_of(board.workers["notifier/a"], T0 + timedelta(hours=1)) == "stopped"


def test_throughput_is_the_change_in_handled_events_between_two_beats() -> None:
    board = OpsBoard()
    board.apply(beat(handled=100), T0)
    assert board.workers["notifier/a"].rate is None
    board.apply(beat(handled=250), T0 + timedelta(seconds=15))
    assert board.workers["notifier/a"].rate == 10.0
    board.apply(beat(handled=5), T0 + timedelta(seconds=30))  # restarted: never negative
    assert board.workers["notifier/a"].rate == 0.0
    assert "10.0" not in screen(board, T0 + timedelta(seconds=31))


def test_failing_feeds_come_first_and_held_posts_are_those_still_waiting() -> None:
    board = OpsBoard()
    for url, outcome in (("https://a.example/ok.rss", "ok"), ("https://z.example/bad.rss", "error")):
        polled = FeedPolled(
            feed_id=url, url=url, trigger="schedule", outcome=outcome, duration_ms=1, polled_at=T0
        )
        board.apply(polled, T0)
    for item in ("one", "two"):
        held = PostHeld(
            item_id=item, channel="x", account="main", rule="approval", reason="r", text="t", held_at=T0
        )
        board.apply(held, T0)
    board.apply(
        PostPublished(
            item_id="two", channel="x", account="main", post_id="1", text="t", dry_run=False, published_at=T0
        ),
        T0,
    )
    board.dead_letters = {"publisher": 3}
    text = screen(board, T0)
    assert text.index("bad.rss") < text.index("ok.rss") and "Feeds: 1 failing" in text
    lines = text.splitlines()
    queues = lines[lines.index(next(line for line in lines if "held for" in line)) + 2]
    assert [cell.strip() for cell in queues.strip("│ ").split("│")] == ["1", "3"]
