"""A faust Table whose writes can be confirmed by the broker and made outside stream iteration.

Why both services need it:

- Durability: `table[key] = value` only queues the changelog record (`Table.on_key_set` →
  `send_changelog` → `changelog_topic.send_soon`, faust 0.15 tables/base.py); a failed send is
  logged by the producer, not raised. State that must survive a SIGKILL (the publisher's intent
  before an API call, feed_ingest's seen ids after the items went out) must be acknowledged
  first. `send_changelog` returns the `FutureMessage` that resolves with the broker's
  RecordMetadata (acks=all here) or fails with the send's error; awaiting exactly that future
  confirms this record, unlike `app.producer.flush()`, which waits for every pending record of
  the process and gives up after 0.1 s without an error.
- Commits: `shared.consumer.RewindingConsumer` calls `confirm_pending` before committing offsets,
  so a stream handler may `put` and go on; the commit waits for the broker instead.
- Writing from a timer or a background task: faust takes a write's changelog partition from the
  current event and refuses writes outside stream iteration. Herald's tables are co-partitioned
  with their source topic and each value records its partition, so writers name it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types.tuples import FutureMessage


class TableWriteError(RuntimeError):
    """The broker did not confirm a table write: whatever depends on it must not happen."""


class DurableTable(faust.Table):
    """A faust Table with `put` (queued) and `put_durably` (acknowledged), partition optional."""

    def __post_init__(self) -> None:  # mode.Service hook, called by __init__
        super().__post_init__()
        self._pending_sends: dict[Any, FutureMessage] = {}
        self._unconfirmed: set[FutureMessage] = set()

    def send_changelog(self, partition: int | None, key: Any, value: Any, *args: Any, **kwargs: Any):
        fut = super().send_changelog(partition, key, value, *args, **kwargs)
        self._pending_sends[key] = fut
        self._unconfirmed.add(fut)
        fut.add_done_callback(self._unconfirmed.discard)
        return fut

    async def confirm_pending(self, wait_seconds: float = 30.0) -> None:
        """Wait until every changelog record sent so far is acknowledged; `TableWriteError` if
        one failed or the broker did not answer in time."""
        pending = list(self._unconfirmed)
        if not pending:
            return
        try:
            async with asyncio.timeout(wait_seconds):
                results = await asyncio.gather(*(asyncio.shield(f) for f in pending), return_exceptions=True)
        except TimeoutError:
            raise TableWriteError(f"{self.name}: {len(pending)} changelog records unconfirmed") from None
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise TableWriteError(f"{self.name}: changelog record refused: {failed[0]!r}")

    async def put_durably(
        self, key: Any, value: Any, *, partition: int | None = None, wait_seconds: float = 15.0
    ) -> None:
        """Set `key` and return only once the broker has acknowledged the changelog record.

        `partition`: the changelog partition, for writes outside an agent's iteration (None: the
        current event's, as faust does)."""
        self._set(key, value, partition)
        fut = self._pending_sends.pop(key, None)
        if fut is None:
            raise TableWriteError(f"no changelog send for {self.name} key {key!r}")
        try:
            await asyncio.wait_for(asyncio.shield(fut), wait_seconds)
        except Exception as exc:
            raise TableWriteError(
                f"{self.name} record for {key!r} not confirmed: {type(exc).__name__}: {exc}"
            ) from exc

    def put(self, key: Any, value: Any, *, partition: int | None = None) -> None:
        """Set `key` without waiting (for bookkeeping whose loss is harmless)."""
        self._set(key, value, partition)
        self._pending_sends.pop(key, None)

    def _set(self, key: Any, value: Any, partition: int | None) -> None:
        if partition is None:
            self[key] = value  # faust's own path: the current event's partition
            return
        # What `Table.on_key_set` + `__setitem__` do, with the partition given instead of taken
        # from the current event (faust 0.15 tables/table.py): changelog first, then the store.
        self.send_changelog(partition, key, value)
        self.data[key] = value
