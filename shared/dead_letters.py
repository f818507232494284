"""Dead letters as ops see them: what a `herald.dlq.<service>` record says about itself, and the
record that replays it onto the topic it came from.

Every writer of a dead letter (the runtime's validate-or-dead-letter path, the publisher's and the
notifier's give-ups) names its headers through `dead_letter_headers`, so a reader can trust them.
A replay puts the original key, value and headers back on the origin topic, with
`herald-replayed-from` naming the dead letter; the service then handles it as any redelivery
(its handlers are idempotent by event id, so an event handled in between changes nothing).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DLQ_HEADER_PREFIX = "herald-dlq-"
REPLAYED_FROM_HEADER = "herald-replayed-from"
UNREADABLE = "(unreadable)"

Headers = list[tuple[str, bytes]]


def dead_letter_headers(reason: str, service: str, topic: str, **origin: object) -> Headers:
    """The `herald-dlq-*` headers: why, which service, the origin topic, and any more origin facts
    (partition, offset, ledger-key, target), each as `herald-dlq-<name>`."""
    facts = {"reason": reason, "service": service, "topic": topic, **origin}
    return [
        (f"{DLQ_HEADER_PREFIX}{name.replace('_', '-')}", str(value).encode()) for name, value in facts.items()
    ]


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, with what its headers and value say."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: datetime

    @classmethod
    def from_record(cls, record: object) -> DeadLetter:
        """From an aiokafka `ConsumerRecord` (timestamp in ms since the epoch)."""
        return cls(
            partition=record.partition,  # type: ignore[attr-defined]
            offset=record.offset,  # type: ignore[attr-defined]
            key=record.key,  # type: ignore[attr-defined]
            value=record.value,  # type: ignore[attr-defined]
            headers=tuple(record.headers or ()),  # type: ignore[attr-defined]
            timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC),  # type: ignore[attr-defined]
        )

    @property
    def id(self) -> str:
        """Its place on the dead-letter topic, `<partition>-<offset>`: unique, and stable."""
        return f"{self.partition}-{self.offset}"

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value.decode("utf-8", errors="replace")
        return None

    def fact(self, name: str) -> str | None:
        return self.header(DLQ_HEADER_PREFIX + name)

    @property
    def reason(self) -> str:
        return self.fact("reason") or "(no reason recorded)"

    @property
    def origin_topic(self) -> str | None:
        return self.fact("topic")

    @property
    def origin_partition(self) -> int | None:
        """The partition it was read from, where recorded (a replay goes back there: its owner
        is the one that must handle it); None means "by key", as its first producer sent it."""
        found = self.fact("partition")
        return int(found) if found is not None and found.isdigit() else None

    @property
    def event_type(self) -> str:
        """The CloudEvents type from the `ce_type` header or the value; `(unreadable)` if neither."""
        return self.header("ce_type") or str(self._envelope().get("type") or UNREADABLE)

    @property
    def event_id(self) -> str | None:
        found = self._envelope().get("id")
        return str(found) if found is not None else None

    def _envelope(self) -> dict:
        try:
            parsed = json.loads(self.value or b"")
        except (ValueError, UnicodeDecodeError):
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def age(self, now: datetime) -> timedelta:
        return max(now - self.timestamp, timedelta(0))

    def replay_headers(self, dead_letter_topic: str) -> Headers:
        """The original headers (without the `herald-dlq-*` ones), plus where the replay came from."""
        kept = [
            (key, value)
            for key, value in self.headers
            if not key.startswith(DLQ_HEADER_PREFIX) and key != REPLAYED_FROM_HEADER
        ]
        return [*kept, (REPLAYED_FROM_HEADER, f"{dead_letter_topic}/{self.id}".encode())]


@dataclass(frozen=True)
class Group:
    """Dead letters of one event type with one kind of reason."""

    event_type: str
    reason_kind: str
    count: int
    oldest: datetime
    newest: datetime


def reason_kind(reason: str) -> str:
    """The general part of a reason (before its first colon), to group "handler error: X: …"."""
    return reason.split(":", 1)[0].strip() or reason


def summarise(letters: Iterable[DeadLetter]) -> list[Group]:
    """Counts by (event type, reason kind), the largest first."""
    letters = list(letters)
    counts = Counter((letter.event_type, reason_kind(letter.reason)) for letter in letters)
    groups = []
    for (event_type, kind), count in counts.most_common():
        times = [
            letter.timestamp
            for letter in letters
            if letter.event_type == event_type and reason_kind(letter.reason) == kind
        ]
        groups.append(Group(event_type, kind, count, min(times), max(times)))
    return groups


class ReplayRefused(ValueError):
    """A replay that would not be safe or does not name what it should; the message says why."""


def choose(letters: Sequence[DeadLetter], ids: Sequence[str], *, everything: bool) -> list[DeadLetter]:
    """The dead letters a replay takes: those named by id (`<partition>-<offset>`), or all."""
    if everything == bool(ids):
        raise ReplayRefused("name the dead letters to replay with --id, or replay them all with --all")
    if everything:
        return list(letters)
    by_id = {letter.id: letter for letter in letters}
    unknown = [wanted for wanted in ids if wanted not in by_id]
    if unknown:
        raise ReplayRefused(f"no dead letter with id {', '.join(unknown)} (see `herald ops dlq list`)")
    return [by_id[wanted] for wanted in dict.fromkeys(ids)]


def check_origin(letter: DeadLetter, readable: set[str]) -> str:
    """The topic a dead letter goes back to; refused unless it is one the service reads."""
    origin = letter.origin_topic
    if origin is None:
        raise ReplayRefused(f"dead letter {letter.id} does not say which topic it came from")
    if origin not in readable:
        raise ReplayRefused(f"dead letter {letter.id} came from {origin}, which this service does not read")
    return origin
