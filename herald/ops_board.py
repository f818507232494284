"""What `herald ops tail` shows, as a pure model: events in (with the time their envelope carries),
a screen out. No Kafka here; `herald/commands/ops.py` feeds it.

A worker is **stale** when three of its beats are missing (its own interval, from the heartbeat);
a stopped one says so and is not stale. Throughput is the change in the events a worker handled
between its last two beats. Feeds show the last poll of each (broken ones first), posts the count
held for a person, dead letters the count on each service's topic.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rich.console import Group
from rich.table import Table
from rich.text import Text

from services.publisher.held import fold, held
from shared.envelope import EventPayload
from shared.events import FeedPolled, ServiceError, ServiceHeartbeat

MISSED_BEATS = 3
DEFAULT_INTERVAL = 15.0
RECENT_ERRORS = 8


@dataclass
class _Worker:
    beat: ServiceHeartbeat
    at: datetime
    rate: float | None = None  # events handled per second between its last two beats


@dataclass
class OpsBoard:
    workers: dict[str, _Worker] = field(default_factory=dict)
    errors: deque[tuple[datetime, ServiceError]] = field(default_factory=lambda: deque(maxlen=RECENT_ERRORS))
    feeds: dict[str, tuple[datetime, FeedPolled]] = field(default_factory=dict)
    posts: list[EventPayload] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)

    def apply(self, payload: EventPayload, at: datetime) -> None:
        """One event, at the time its envelope says it happened."""
        if isinstance(payload, ServiceHeartbeat):
            self._beat(payload, at)
        elif isinstance(payload, ServiceError):
            self.errors.append((at, payload))
        elif isinstance(payload, FeedPolled):
            self.feeds[payload.feed_id] = (at, payload)
        else:
            self.posts.append(payload)

    def _beat(self, beat: ServiceHeartbeat, at: datetime) -> None:
        before = self.workers.get(beat.subject())
        rate = before.rate if before else None
        if before and beat.events_handled is not None and before.beat.events_handled is not None:
            seconds = (at - before.at).total_seconds()
            if seconds > 0:
                rate = max(beat.events_handled - before.beat.events_handled, 0) / seconds
        self.workers[beat.subject()] = _Worker(beat, at, rate)

    def status_of(self, worker: _Worker, now: datetime) -> str:
        if worker.beat.status == "stopping":
            return "stopped"
        interval = worker.beat.interval_seconds or DEFAULT_INTERVAL
        if now - worker.at > timedelta(seconds=MISSED_BEATS * interval):
            return "STALE"
        return worker.beat.status

    def render(self, now: datetime) -> Group:
        return Group(self._workers(now), self._feeds(now), self._queues(), self._errors(now))

    def _workers(self, now: datetime) -> Table:
        table = Table("service", "instance", "status", "last beat", "lag", "events/s", "last error")
        table.title = f"Herald workers at {now:%H:%M:%S}"
        table.columns[6].overflow = "fold"
        for _, worker in sorted(self.workers.items()):
            beat, status = worker.beat, self.status_of(worker, now)
            style = {"STALE": "bold red", "starting": "yellow", "stopped": "dim"}.get(status, "green")
            table.add_row(
                beat.service,
                beat.instance,
                Text(status, style=style),
                f"{_ago(now - worker.at)} ago",
                "?" if beat.consumer_lag is None else str(beat.consumer_lag),
                "" if worker.rate is None else f"{worker.rate:.1f}",
                beat.last_error or "",
            )
        return table

    def _feeds(self, now: datetime) -> Table:
        failing = sum(1 for _, polled in self.feeds.values() if polled.outcome == "error")
        table = Table("feed", "last poll", "outcome", "new", "error", title=f"Feeds: {failing} failing")
        table.columns[4].overflow = "fold"
        ordered = sorted(self.feeds.values(), key=lambda entry: (entry[1].outcome != "error", entry[1].url))
        for at, polled in ordered[:10]:
            outcome = Text(polled.outcome, style="bold red" if polled.outcome == "error" else "")
            new = str(polled.items_new)
            table.add_row(polled.url, f"{_ago(now - at)} ago", outcome, new, polled.error or "")
        return table

    def _queues(self) -> Table:
        waiting = held(fold(self.posts))
        table = Table("held for a person", *(f"dead letters: {name}" for name in self.dead_letters))
        table.add_row(str(len(waiting)), *(str(count) for count in self.dead_letters.values()))
        return table

    def _errors(self, now: datetime) -> Table:
        table = Table("when", "service", "kind", "message", title="Recent errors")
        table.columns[3].overflow = "fold"
        for at, error in reversed(self.errors):
            kind = Text(error.kind, style="red")
            table.add_row(f"{_ago(now - at)} ago", error.service, kind, error.message)
        return table


def _ago(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
