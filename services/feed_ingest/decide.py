"""The "decide" step: given what a feed has seen and what a fetch found, which items to announce.

Pure (lemon24/reader's retrieve → parse → decide → act): tested with plain data.
Rules (issue 3, DESIGN.md "Identity and nothing twice"):
- an item is new when none of its identity keys has been seen; repeats in one fetch count once;
- the first successful poll announces nothing (no flood of the back catalogue), unless the
  subscription asked for the latest N (`backfill`);
- the seen window keeps every key of the latest fetch plus the most recent others, up to
  `SEEN_WINDOW`: bounded per feed, yet an item still in the feed is never forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.feed_ingest.parse import ParsedEntry

SEEN_WINDOW = 500


@dataclass(frozen=True)
class Decision:
    #: Items to announce, oldest first (so channels post them in the order they happened).
    emit: tuple[ParsedEntry, ...]
    #: The seen window once all of `emit` is published.
    seen: list[str]


def decide(
    seen: Sequence[str], entries: Sequence[ParsedEntry], *, baseline_done: bool, backfill: int = 0
) -> Decision:
    known = set(seen)
    fresh: list[ParsedEntry] = []
    for entry in entries:
        if known.isdisjoint(entry.identity_keys):
            fresh.append(entry)
        known.update(entry.identity_keys)  # a repeat later in the same fetch is not fresh
    if not baseline_done:
        fresh = sorted(fresh, key=_recency, reverse=True)[:backfill] if backfill > 0 else []
    return Decision(emit=tuple(sorted(fresh, key=_recency)), seen=remember(seen, entries))


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


def _recency(entry: ParsedEntry) -> tuple[float, ...]:
    """Sort key, ascending = older: dated items by date; undated ones by place (lower in the feed
    = older), after the dated ones of equal standing."""
    stamp = entry.published or entry.updated
    return (1, stamp.timestamp(), -entry.position) if stamp else (0, 0, -entry.position)
