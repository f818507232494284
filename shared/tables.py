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
import logging
from functools import partial
from typing import Any

import faust

log = logging.getLogger(__name__)

#: A changelog record waiting for the table's sender: (partition, key, value, writer's future).
_Outgoing = tuple[int | None, Any, Any, "asyncio.Future[Any]"]


class TableWriteError(RuntimeError):
    """The broker did not confirm a table write: whatever depends on it must not happen."""


class DurableTable(faust.Table):
    """A faust Table with `put` (queued) and `put_durably` (acknowledged), partition optional."""

    @classmethod
    def json_ledger(cls, app: faust.App, *, name: str, partitions: int, help: str) -> DurableTable:
        """A registered table of str keys and JSON values: the publisher's and the notifier's
        ledgers (one entry per thing that must happen once, read back as plain dicts)."""
        table = cls(
            app,
            name=name,
            default=None,
            beacon=app.tables.beacon,
            partitions=partitions,
            schema=faust.Schema(
                key_type=str, value_type=None, key_serializer="json", value_serializer="json"
            ),
            help=help,
        )
        app.tables.add(table)
        return table

    def __post_init__(self) -> None:  # mode.Service hook, called by __init__
        super().__post_init__()
        self._pending_sends: dict[Any, asyncio.Future[Any]] = {}
        self._unconfirmed: set[asyncio.Future[Any]] = set()
        self._outbox: asyncio.Queue[_Outgoing] | None = None
        self._sender: asyncio.Task[None] | None = None

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> asyncio.Future[Any]:
        """Queue the changelog record on this table's own ordered sender; the future resolves with
        the broker's RecordMetadata.

        Not faust's `send_soon`: its producer buffer publishes one record per loop pass through
        the whole topic/channel stack and, past 100 queued records, pauses stream processing
        while it flushes in 0.1 s waits — a burst of subscriptions held every poll's state write
        for ~200 ms. The bytes are faust's own (the changelog topic's serializers), so recovery
        reads them as before. faust's per-record callback only persists RocksDB offsets; Herald's
        tables use the memory store."""
        topic = self.changelog_topic
        key_bytes, _ = topic.prepare_key(key, key_serializer or self.key_serializer)
        value_bytes, _ = topic.prepare_value(value, value_serializer or self.value_serializer)
        if self._outbox is None:
            self._outbox = asyncio.Queue()
        if self._sender is None or self._sender.done():
            self._sender = asyncio.ensure_future(self._send_in_order(self._outbox))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._outbox.put_nowait((partition, key_bytes, value_bytes, done))
        self._pending_sends[key] = done
        self._unconfirmed.add(done)
        done.add_done_callback(self._unconfirmed.discard)
        return done

    async def _send_in_order(self, outbox: asyncio.Queue[_Outgoing]) -> None:
        """Hand records to the producer in the order they were written (the producer keeps that
        order per partition), and tie each broker answer to its writer's future."""
        name = self.changelog_topic.get_topic_name()
        while True:
            partition, key_bytes, value_bytes, done = await outbox.get()
            try:
                sent = await self.app.producer.send(name, key_bytes, value_bytes, partition, None, None)
            except Exception as exc:  # e.g. the producer stopped: the writer must know
                if not done.done():
                    done.set_exception(exc)
                continue
            sent.add_done_callback(lambda result, done=done: _settle(done, result))

    async def on_stop(self) -> None:
        """Let queued changelog records reach the broker before the worker goes."""
        await self.settle(wait_seconds=10.0)
        await super().on_stop()

    async def settle(self, wait_seconds: float) -> None:
        """Wait (up to `wait_seconds`) for every changelog record written so far, then end the
        sender. For the last writes of a stopping worker: faust stops its tables before the app's
        `on_before_shutdown` handlers run, and the producer only after them, so a handler that
        writes must settle again itself, or its records meet a closed producer."""
        try:
            await self.confirm_pending(wait_seconds=wait_seconds)
        except TableWriteError as exc:
            log.warning("%s", exc)
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

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
        """Set `key` without waiting (for bookkeeping whose loss is harmless: a refused record
        is one warning line, not an unretrieved exception)."""
        self._set(key, value, partition)
        sent = self._pending_sends.pop(key, None)
        if sent is not None:
            sent.add_done_callback(partial(_warn_if_refused, f"{self.name} record for {key!r}"))

    def _set(self, key: Any, value: Any, partition: int | None) -> None:
        if partition is None:
            self[key] = value  # faust's own path: the current event's partition
            return
        # What `Table.on_key_set` + `__setitem__` do, with the partition given instead of taken
        # from the current event (faust 0.15 tables/table.py): changelog first, then the store.
        self.send_changelog(partition, key, value)
        self.data[key] = value


def _warn_if_refused(what: str, sent: asyncio.Future[Any]) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        log.warning("%s not written: %s", what, sent.exception())


def _settle(done: asyncio.Future[Any], result: asyncio.Future[Any]) -> None:
    """Copy the producer's answer onto the writer's future."""
    if done.done():
        return
    if result.cancelled():
        done.set_exception(TableWriteError("changelog send cancelled"))
    elif result.exception() is not None:
        done.set_exception(result.exception())  # type: ignore[arg-type]
    else:
        done.set_result(result.result())
