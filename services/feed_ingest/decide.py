"""The "decide" step: given what a feed has seen and what a fetch found, which items to announce
as new and which as changed.

Pure (lemon24/reader's retrieve → parse → decide → act): tested with plain data.
Rules (issue 3, issue 5 §2; docs/architecture.md "Identity", "Nothing twice"):
- an item is new when none of its identity keys has been seen; repeats in one fetch count once;
- the first successful poll announces nothing (no flood of the back catalogue), unless the
  subscription asked for the latest N (`backfill`);
- an item announced before whose content hash changed (same identity, new title/link/summary)
  is an update: `FeedItemUpdated` under the id it was announced with, never a second discovery.
  Items never announced (the back catalogue) change silently;
- the seen window keeps every key of the latest fetch plus the most recent others, up to
  `SEEN_WINDOW`; fingerprints (key → announced id, content hash, per-field digests) are kept for
  exactly the keys in that window: bounded per feed, yet an item still in the feed is never forgotten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from services.feed_ingest.identity import normalise_text
from services.feed_ingest.parse import ParsedEntry

SEEN_WINDOW = 500
FIELDS = ("title", "link", "summary")


@dataclass(frozen=True)
class Fingerprint:
    """What Herald knows of one item: the id it goes by, its content hash, per-field digests,
    and whether it was announced (only announced items get `FeedItemUpdated`)."""

    item_id: str
    content_hash: str
    fields: str  # 8 hex per field of FIELDS
    announced: bool

    def encode(self) -> str:
        return f"{self.item_id} {self.content_hash} {self.fields} {int(self.announced)}"

    @classmethod
    def decode(cls, raw: str) -> Fingerprint | None:
        parts = raw.split(" ")
        if len(parts) != 4:
            return None
        return cls(parts[0], parts[1], parts[2], parts[3] == "1")


@dataclass(frozen=True)
class Update:
    entry: ParsedEntry
    item_id: str  # the id it was announced with (may differ from entry.item_id: changing guids)
    previous_content_hash: str
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    #: Items to announce, oldest first (so channels post them in the order they happened).
    emit: tuple[ParsedEntry, ...]
    #: The seen window once all of `emit` is published.
    seen: list[str]
    #: Announced items whose content changed.
    updates: tuple[Update, ...] = ()
    #: key → encoded Fingerprint, once everything is published.
    fingerprints: dict[str, str] | None = None


def field_digests(entry: ParsedEntry) -> str:
    values = (normalise_text(entry.title), (entry.link or "").strip(), normalise_text(entry.summary))
    return "".join(hashlib.sha256(value.encode()).hexdigest()[:8] for value in values)


def changed_fields(before: str, after: str) -> tuple[str, ...]:
    if len(before) != 8 * len(FIELDS):
        return FIELDS  # unknown: say all may have changed
    return tuple(
        name for n, name in enumerate(FIELDS) if before[8 * n : 8 * n + 8] != after[8 * n : 8 * n + 8]
    )


def decide(
    seen: Sequence[str],
    entries: Sequence[ParsedEntry],
    *,
    baseline_done: bool,
    backfill: int = 0,
    fingerprints: Mapping[str, str] | None = None,
) -> Decision:
    known = set(seen)
    prints = dict(fingerprints or {})
    fresh: list[ParsedEntry] = []
    updates: list[Update] = []
    handled: set[str] = set()
    for entry in entries:
        if known.isdisjoint(entry.identity_keys):
            fresh.append(entry)
        elif handled.isdisjoint(entry.identity_keys):
            old = _lookup(prints, entry.identity_keys)
            if old is not None and old.announced and old.content_hash != entry.content_hash:
                digests = field_digests(entry)
                updates.append(
                    Update(entry, old.item_id, old.content_hash, changed_fields(old.fields, digests))
                )
        known.update(entry.identity_keys)  # a repeat later in the same fetch is not fresh
        handled.update(entry.identity_keys)
    if not baseline_done:
        fresh = sorted(fresh, key=_recency, reverse=True)[:backfill] if backfill > 0 else []
    emit = tuple(sorted(fresh, key=_recency))
    new_seen = remember(seen, entries)
    return Decision(
        emit=emit,
        seen=new_seen,
        updates=tuple(updates),
        fingerprints=settle_fingerprints(prints, entries, new_seen, announced=emit, updated=updates),
    )


def settle_fingerprints(
    previous: Mapping[str, str],
    entries: Iterable[ParsedEntry],
    seen: Sequence[str],
    *,
    announced: Iterable[ParsedEntry],
    updated: Iterable[Update],
    failed: Iterable[ParsedEntry] = (),
) -> dict[str, str]:
    """Fingerprints after a poll: every entry of the fetch recorded (announced ones marked so,
    updates carrying their new hash), `failed` entries left as they were (tried again next poll),
    and only keys in the seen window kept."""
    prints = dict(previous)
    announced_ids = {entry.item_id for entry in announced}
    updated_by_item = {id(update.entry): update for update in updated}
    failed_ids = {id(entry) for entry in failed}
    for entry in entries:
        if id(entry) in failed_ids:
            continue
        old = _lookup(prints, entry.identity_keys)
        update = updated_by_item.get(id(entry))
        if old is not None and old.content_hash == entry.content_hash and update is None:
            record = old
        elif old is not None:
            record = Fingerprint(old.item_id, entry.content_hash, field_digests(entry), old.announced)
        else:
            record = Fingerprint(
                entry.item_id, entry.content_hash, field_digests(entry), entry.item_id in announced_ids
            )
        for key in entry.identity_keys:
            prints[key] = record.encode()
    window = set(seen)
    return {key: value for key, value in prints.items() if key in window}


def remember(
    seen: Sequence[str], entries: Iterable[ParsedEntry], *, forget: Iterable[ParsedEntry] = ()
) -> list[str]:
    """The new seen window: this fetch's keys first, then older ones, capped.

    `forget`: entries that could not be published, left unseen so the next poll tries again."""
    dropped = {key for entry in forget for key in entry.identity_keys}
    current: list[str] = []
    for entry in entries:
        current.extend(key for key in entry.identity_keys if key not in dropped)
    current = list(dict.fromkeys(current))
    current_set = set(current)
    older = [key for key in seen if key not in current_set and key not in dropped]
    return current + older[: max(0, SEEN_WINDOW - len(current))]


def _lookup(prints: Mapping[str, str], keys: Iterable[str]) -> Fingerprint | None:
    for key in keys:
        raw = prints.get(key)
        if raw:
            found = Fingerprint.decode(raw)
            if found is not None:
                return found
    return None


def _recency(entry: ParsedEntry) -> tuple[float, ...]:
    """Sort key, ascending = older: dated items by date; undated ones by place (lower in the feed
    = older), after the dated ones of equal standing."""
    stamp = entry.published or entry.updated
    return (1, stamp.timestamp(), -entry.position) if stamp else (0, 0, -entry.position)
