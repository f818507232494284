"""A person's decisions on held posts (PostDecisionRequested, from the CLI or the admin HTTP API):
approve → queued, urgent, the policy skipped (an edited text must still fit the channel); drop →
dropped. Also the list of held posts the admin API shows."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from services.publisher.channels import Channel
from services.publisher.ledger import LedgerEntry, LedgerState, PostingLedger
from services.publisher.lengths import rules_for
from services.publisher.posting.entries import account_of, kind_of
from services.publisher.posting.lanes import Lanes
from services.publisher.posting.outcomes import Outcomes
from shared.events import PostApproved, PostDecisionRequested
from shared.runtime import ServiceRuntime, current_partition

log = logging.getLogger(__name__)


class Decisions:
    """Applies approve/drop commands to the held entries they name."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        ledger: PostingLedger,
        channels: dict[str, Channel],
        *,
        lanes: Lanes,
        outcomes: Outcomes,
    ) -> None:
        self.runtime = runtime
        self.ledger = ledger
        self.channels = channels
        self.lanes = lanes
        self.outcomes = outcomes

    async def decide(self, command: PostDecisionRequested, partition: int | None = None) -> None:
        if partition is None:
            partition = current_partition()
        wanted = f"{command.channel}:{command.account}"
        matched = [
            (key, entry)
            for key, entry in self.ledger.item_entries(command.item_id)
            if command.channel in ("", "*")
            or wanted in (entry.target, key.split("|")[1] if "|" in key else "")
        ]
        held = [(key, entry) for key, entry in matched if entry.state is LedgerState.HELD]
        if not held:
            states = ", ".join(f"{key}={entry.state}" for key, entry in matched) or "no ledger entry"
            message = f"{command.action} {command.item_id} {wanted}: nothing held ({states})"
            log.warning(message)
            await self.runtime.report_error("decision_ignored", message)
            return
        for key, entry in held:
            if entry.partition is None and partition is not None:
                entry = replace(entry, partition=partition)
            channel = self.channels.get(entry.target)
            if command.action == "drop":
                await self._drop(key, entry, command, channel)
            else:
                await self._approve(key, entry, command, channel)

    async def _drop(
        self, key: str, entry: LedgerEntry, command: PostDecisionRequested, channel: Channel | None
    ) -> None:
        dropped = entry.to_state(
            LedgerState.DROPPED,
            reason=command.reason or "dropped by a person",
            dropped_by=command.requested_by,
        )
        await self.ledger.record(key, dropped)
        await self.outcomes.emit(key, dropped, channel)

    async def _approve(
        self, key: str, entry: LedgerEntry, command: PostDecisionRequested, channel: Channel | None
    ) -> None:
        text = command.text if command.text is not None else entry.text
        rules = rules_for(entry.target.partition(":")[0])
        if not rules.fits(text):
            message = (
                f"approve {key}: the new text does not fit on {entry.target} "
                f"({rules.length(text)} > {rules.limit}); still held"
            )
            log.warning(message)
            await self.runtime.report_error("decision_rejected", message)
            return
        approved = entry.to_state(
            LedgerState.QUEUED,
            text=text,
            approved=True,
            approved_by=command.requested_by,
            urgent=True,
            rule=None,
            release_at=None,
        )
        await self.ledger.record(key, approved)
        await self.outcomes.publish(
            PostApproved(
                item_id=command.item_id,
                channel=kind_of(channel, entry),
                account=account_of(channel, entry),
                approved_by=command.requested_by,
                text=text,
                edited=text != entry.text,
                approved_at=datetime.now(UTC),
            ),
            key,
            approved,
        )
        self.lanes.enqueue(key, approved)

    def held(self) -> list[dict[str, Any]]:
        """Held posts this worker holds, for `GET /posts/held`."""
        rows = []
        for key, entry in self.ledger.entries():
            if entry.state is not LedgerState.HELD:
                continue
            item = entry.item or {}
            kind, _, account = entry.target.partition(":")
            rows.append(
                {
                    "item_id": key.split("|")[0],
                    "key": key,
                    "channel": kind,
                    "account": account,
                    "target": entry.target,
                    "rule": entry.rule,
                    "reason": entry.reason,
                    "text": entry.text,
                    "title": item.get("title", ""),
                    "link": item.get("link"),
                    "release_at": entry.release_at,
                    "held_at": entry.updated_at,
                }
            )
        return sorted(rows, key=lambda row: row["held_at"])
