"""`herald ops tail` in a real pseudo-terminal, its screen read back through a terminal emulator
(pyte): workers with their status (a silent one STALE after three missed beats, a stopped one
"stopped"), lag and last error; failing feeds first; held posts; dead letters; recent errors."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta

import pyte
import pytest

from shared.dead_letters import dead_letter_headers
from shared.envelope import wrap
from shared.events import FeedPolled, PostHeld, ServiceError, ServiceHeartbeat
from shared.producer import EventProducer, record_headers
from shared.topics import FEED_HEALTH, OPS_ERRORS, OPS_HEARTBEAT, POSTS, dead_letter
from tests.support.processes import REPO_ROOT

pytestmark = pytest.mark.integration

COLUMNS, LINES = 180, 60


def _beat(instance: str, status: str, *, lag: int | None, interval: float) -> ServiceHeartbeat:
    return ServiceHeartbeat(
        service="publisher",
        instance=instance,
        status=status,  # type: ignore[arg-type]
        started_at=datetime.now(UTC) - timedelta(hours=1),
        uptime_seconds=3600,
        version="test",
        interval_seconds=interval,
        consumer_lag=lag,
        events_handled=100,
    )


async def _stage(bootstrap: str, namespace: str) -> None:
    """What the view should show, as the services would have said it."""
    now = datetime.now(UTC)
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:

        async def at(spec, key, payload, when):  # noqa: ANN001, ANN202
            envelope = wrap(payload, source="/herald/publisher", time=when)
            await producer.send_record(spec, envelope.to_bytes(), key=key, headers=record_headers(envelope))

        for instance, status, lag, interval, seconds_ago in (  # fresh: stale only after 6 minutes
            ("worker-fresh", "ready", 7, 120, 0),
            ("worker-silent", "ready", 0, 10, 50),
            ("worker-gone", "stopping", 0, 10, 90),
        ):
            beat = _beat(instance, status, lag=lag, interval=interval)
            await at(OPS_HEARTBEAT, "publisher", beat, now - timedelta(seconds=seconds_ago))
        error = ServiceError(
            service="publisher",
            instance="worker-fresh",
            kind="x_unreachable",
            message="X did not answer in 10s",
            occurred_at=now,
        )
        await at(OPS_ERRORS, "publisher", error, now)
        for url, outcome, problem in (
            ("https://www.example.gov.uk/news.rss", "ok", None),
            ("https://www.example.gov.uk/broken.rss", "error", "HTTP 500 from the server"),
        ):
            polled = FeedPolled(
                feed_id=url[-12:],
                url=url,
                trigger="schedule",
                outcome=outcome,  # type: ignore[arg-type]
                error=problem,
                duration_ms=12,
                polled_at=now,
            )
            await at(FEED_HEALTH, polled.feed_id, polled, now)
        held = PostHeld(
            item_id="item-held-1",
            channel="x",
            account="corporate",
            rule="keyword",
            reason="blocked word 'strike'",
            text="Strike action update",
            held_at=now,
        )
        await at(POSTS, held.item_id, held, now)
        reason = "handler error: RuntimeError: boom"
        headers = dead_letter_headers(reason, "publisher", namespace + "herald.feed-items")
        await producer.send_record(dead_letter("publisher"), b"{}", key="k", headers=headers)


def _screen_of(env: dict[str, str], wanted: list[str], timeout: float = 40.0) -> list[str]:
    """Run `herald ops tail` on a pty of COLUMNS×LINES until its screen shows every `wanted` text."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "herald", "ops", "tail", "--seconds", str(timeout)],
        cwd=REPO_ROOT,
        env={**os.environ, **env, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(LINES)},
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    screen = pyte.Screen(COLUMNS, LINES)
    stream = pyte.ByteStream(screen)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([leader], [], [], 0.5)
            if readable:
                try:
                    stream.feed(os.read(leader, 65536))
                except OSError:  # the process ended and closed the terminal
                    break
            text = "\n".join(screen.display)
            if all(piece in text for piece in wanted):
                return list(screen.display)
        raise AssertionError("the screen never showed all of it:\n" + "\n".join(screen.display))
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.close(leader)


def _row(screen: list[str], text: str) -> str:
    [line] = [line for line in screen if text in line]
    return line


async def test_the_live_view_shows_workers_feeds_held_posts_dead_letters_and_errors(
    kafka_bootstrap: str, herald_topics: str
) -> None:
    await _stage(kafka_bootstrap, herald_topics)
    env = {"HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HERALD_TOPIC_NAMESPACE": herald_topics}
    wanted = ["worker-fresh", "worker-silent", "worker-gone", "Feeds: 1 failing", "x_unreachable"]
    screen = _screen_of(env, wanted)
    fresh, silent, gone = (_row(screen, name) for name in ("worker-fresh", "worker-silent", "worker-gone"))
    assert " ready " in fresh and " 7 " in fresh  # its lag
    assert "STALE" in silent  # 50 s silent at a 10 s interval: three beats missed
    assert "stopped" in gone and "STALE" not in gone
    broken, fine = _row(screen, "broken.rss"), _row(screen, "news.rss")
    assert "error" in broken and "HTTP 500 from the server" in broken and " ok " in fine
    assert screen.index(broken) < screen.index(fine)  # failing feeds first
    queues = screen[screen.index(_row(screen, "held for a person")) + 2]
    counts = [cell.strip() for cell in queues.strip("│┃ ").replace("┃", "│").split("│")]
    assert counts == ["1", "0", "1", "0", "0"]  # held; dead letters of feed_ingest, publisher, …
    assert "X did not answer in 10s" in _row(screen, "x_unreachable")
