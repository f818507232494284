"""What the snapshot follower hands its sink: each record once, in order, tombstones as None, and
nothing it cannot read (no broker needed: records as aiokafka delivers them)."""

import asyncio

from aiokafka import ConsumerRecord, TopicPartition

from shared.compacted import SnapshotFollower
from shared.envelope import EventPayload, wrap
from shared.events import StaffMember
from shared.topics import DIRECTORY_SNAPSHOT


class Sink:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str | None, int]] = []

    def apply(self, key: str, payload: EventPayload | None, *, partition: int, offset: int) -> None:
        name = payload.name if isinstance(payload, StaffMember) else None
        self.applied.append((key, name, offset))


def record(offset: int, key: bytes | None, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord("t.herald.directory.staff", 0, offset, 0, 0, key, value, None, 0, 0, [])


def member(name: str) -> bytes:
    return wrap(StaffMember(staff_id="s-1", version=1, name=name), source="/t").to_bytes()


def test_records_are_applied_once_in_order_and_tombstones_are_none() -> None:
    sink = Sink()
    follower = SnapshotFollower(DIRECTORY_SNAPSHOT, sink, "127.0.0.1:1", namespace="t.")
    for r in (record(0, b"s-1", member("Sue")), record(1, b"s-1", member("Susan")), record(2, b"s-1", None)):
        follower._apply(r)
    follower._apply(record(1, b"s-1", member("Susan")))  # read again after a broker error: skipped
    assert sink.applied == [("s-1", "Sue", 0), ("s-1", "Susan", 1), ("s-1", None, 2)]


def test_unreadable_and_keyless_records_are_skipped_and_counted() -> None:
    sink = Sink()
    follower = SnapshotFollower(DIRECTORY_SNAPSHOT, sink, "127.0.0.1:1", namespace="t.")
    follower._apply(record(0, b"s-1", b"not an event"))
    follower._apply(record(1, None, member("Sue")))
    follower._apply(record(2, b"s-1", member("Sue")))
    assert follower.skipped == 2 and sink.applied == [("s-1", "Sue", 2)]


async def test_a_barrier_waits_until_the_follower_has_read_past_the_ends_it_asked_for() -> None:
    class Consumer:  # what the barrier asks of the follower's running consumer
        async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
            return {tp: 5 if tp.partition == 2 else 0 for tp in partitions}

    follower = SnapshotFollower(DIRECTORY_SNAPSHOT, Sink(), "127.0.0.1:1", namespace="t.")
    follower.caught_up.set()
    follower._consumer = Consumer()  # type: ignore[assignment]
    barrier = asyncio.ensure_future(follower.barrier())
    for position in (3, 5):
        await asyncio.sleep(0)
        assert not barrier.done()  # partition 2 is read up to `position` only
        follower._read[2] = position
        follower._progress.set()
        follower._progress = asyncio.Event()
    await asyncio.wait_for(barrier, 5)
