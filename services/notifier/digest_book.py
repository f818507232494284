"""Digest targets' notes, kept durably until their window is told (docs/adr/0010).

The consumer sends each wanted event's note (`digest.DigestNote`, as that target may see it) to
`herald.internal.notifier-digest`, keyed by target and awaited before its offset may move; so every
note of one target reaches one worker, whichever source partition it came from. That worker's
agent keeps it in the `digest-notes` table (co-partitioned with the digest topic) under
`target|event id` — a redelivered or replayed note finds itself there and is not kept twice — in
the window `digest.window_for` gives it against the target's closed-through mark.

The same worker closes the target's windows as its clock passes their ends — `digest.SETTLE`
after them, and not in its first `SETTLE` after a start or a rebalance, while it catches up: it
builds each over window's message, writes the mark (closed through that end, with the built
messages) and waits for the broker, then records each message in the delivery ledger under an id
derived from the target and the window, and the target's lane delivers it like any alert. The mark
is set in memory before anything is awaited, so a note arriving meanwhile goes into the next
window; a restart after the mark finds the messages in it and records any the ledger lacks. Notes
stay in the table (one record per note, compacted), like the ledger's delivered entries.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import faust
from pydantic import ValidationError

from services.notifier import decide, digest
from services.notifier.clock import Clock
from services.notifier.delivery import Lane, assigned, can_work
from services.notifier.ledger import DeliveryEntry, DeliveryLedger
from services.notifier.render import Alert
from services.notifier.targets import Target
from shared.runtime import ServiceRuntime
from shared.tables import DurableTable
from shared.topics import NOTIFIER_DIGEST

log = logging.getLogger(__name__)

DIGEST_TABLE = "digest-notes"
TICK_SECONDS = 0.5
MARK = "#closed"


class DigestBook:
    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: DeliveryLedger,
        targets: list[Target],
        lanes: dict[str, Lane],
        clock: Clock,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.targets = {t.name: t for t in targets if t.config.digest is not None}
        self.lanes = lanes
        self.clock = clock
        self.table = DurableTable.json_ledger(
            runtime.app,
            name=DIGEST_TABLE,
            partitions=NOTIFIER_DIGEST.partitions,
            help="Digest notes: target|event id → the note and its window; target#closed → the mark.",
        )
        runtime.app.agent(runtime.topic(NOTIFIER_DIGEST), name=f"herald.{runtime.service}.digest")(
            self._keep_notes
        )

    async def send(self, note: digest.DigestNote) -> None:
        """Hand a note to its target's digest worker; returns once the broker has it."""
        pending = await self.runtime.topic(NOTIFIER_DIGEST).send(
            key=note.target.encode(), value=note.model_dump_json().encode()
        )
        await pending

    async def _keep_notes(self, stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                note = digest.DigestNote.model_validate_json(event.value or b"")
            except ValidationError as exc:
                await self.runtime.dead_letter(event, f"not a digest note: {exc.errors()[0]['msg']}")
                continue
            try:
                await self.keep(note, event.message.partition)
            except Exception as exc:  # as the runtime's consumers do: parked, never acked silently
                log.exception("digest note for %s not kept", note.target)
                await self.runtime.dead_letter(event, f"note not kept: {type(exc).__name__}: {exc}")

    async def keep(self, note: digest.DigestNote, partition: int) -> None:
        target = self.targets.get(note.target)
        key = f"{note.target}|{note.event_id}"
        if target is None or self.table.get(key) is not None:
            return  # a target no longer digesting, or a note already kept
        assert target.config.digest is not None
        end = digest.window_for(
            note.occurred_at, target.config.digest, target.zone, self._mark(note.target)[0]
        )
        kept = digest.NoteInWindow(note=note, window_end=end)
        await self.table.put_durably(key, kept.model_dump(mode="json"), partition=partition)

    async def run(self) -> None:
        working_since: datetime | None = None
        while True:
            await asyncio.sleep(TICK_SECONDS)
            if not can_work(self.runtime):
                working_since = None  # starting, rebalancing, recovering
                continue
            now = self.clock()
            if working_since is None or now < working_since:  # (a clock set back starts afresh)
                working_since = now
            if now - working_since < digest.SETTLE:
                continue  # after a start or a rebalance: let the backlog's notes arrive first
            mine = assigned(self.runtime, NOTIFIER_DIGEST)
            for name, target in self.targets.items():
                partition = NOTIFIER_DIGEST.partition_for(name.encode())
                if mine is not None and partition not in mine:
                    continue
                try:
                    await self.close(target, partition)
                except Exception:  # the notes and the mark stay; the next tick tries again
                    log.exception("digest for %s not closed; trying again", name)

    async def close(self, target: Target, partition: int) -> None:
        """Build and record every window of `target` that is over and not yet told."""
        schedule = target.config.digest
        assert schedule is not None
        closed, built = self._mark(target.name)
        await self._record(target, partition, built)
        through = digest.over_through(self.clock(), schedule, target.zone)
        if closed is not None and through <= closed:
            return
        groups = digest.windows_to_close(self._notes(target.name), closed, through)
        built = {}
        for end, notes in groups.items():
            start = schedule.last_at_or_before(end - timedelta(microseconds=1), target.zone)
            alert = digest.build(target.name, notes, window_start=start, window_end=end, zone=target.zone)
            built[decide.alert_id(alert.event_id, target.name, "digest")] = alert.to_json()
        mark = {"through": through.isoformat(), "built": built}
        await self.table.put_durably(target.name + MARK, mark, partition=partition)
        await self._record(target, partition, built)

    async def _record(self, target: Target, partition: int, built: dict[str, dict[str, Any]]) -> None:
        if not built:
            return
        now = self.clock()
        for key, alert in built.items():
            if self.ledger.get(key) is None:
                entry = DeliveryEntry.new(
                    target=target.name,
                    alert=alert,
                    partition=partition,
                    now=now,
                    source_topic=NOTIFIER_DIGEST.name,
                    source_key=target.name,
                    source_value=json.dumps(alert),
                )
                await self.ledger.record(key, entry)
                log.info("%s: digest %s recorded (%s)", target.name, key, Alert.from_json(alert).headline)
        self.lanes[target.name].wake.set()
        mark = self.table.get(target.name + MARK) or {}
        self.table.put(target.name + MARK, {**mark, "built": {}}, partition=partition)

    def _mark(self, target: str) -> tuple[datetime | None, dict[str, dict[str, Any]]]:
        mark = self.table.get(target + MARK)
        if not mark:
            return None, {}
        return datetime.fromisoformat(mark["through"]), dict(mark.get("built") or {})

    def _notes(self, target: str) -> list[digest.NoteInWindow]:
        prefix = target + "|"
        return [
            digest.NoteInWindow.model_validate(value)
            for key, value in list(self.table.data.items())
            if isinstance(key, str) and key.startswith(prefix) and value
        ]
