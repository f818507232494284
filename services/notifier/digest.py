"""A target's digest: which window an event belongs to, which windows are over, and the one
message that tells a window (its facts; the `digest` templates word it in each target's markup).
Pure: the clock, the zone and the closed-through mark are passed in.

Windows are half-open, [start, end), between two of the schedule's boundaries
(`shared.localtime.Schedule`). An event belongs to the window holding its own time (the
CloudEvents `time`: when it happened), unless that window is already closed — its digest built —
in which case it goes into the first open one (a late event is told late, never dropped). A
window is over `SETTLE` after the clock reaches its end; each target's mark says through which
boundary its digests are built, so a restart neither rebuilds nor skips one. A window nothing
happened in sends nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from services.notifier.render import CHANNEL_NAMES, Alert
from services.notifier.templating import DEFAULT_TEMPLATES, Templates
from shared.envelope import EventPayload
from shared.events import FeedStatusChanged, PostFailed, PostHeld, PostPublished, StaffChanged
from shared.localtime import Schedule

DIGEST_EVENT_TYPE = "herald.notifier.digest"
DIGEST_KIND = "digest"
#: Namespace of digest ids (uuid5 of target and window end): fixed, or a restart sends again.
DIGEST_NAMESPACE = uuid.UUID("0e8c7a4e-5a0b-5d37-8f0c-7b0f4f3b9d21")

#: How long after a window's end its digest is built (events of its last seconds still arriving).
SETTLE = timedelta(seconds=30)

Section = Literal["published", "failed", "held", "accounts", "other"]
SECTION_TITLES: dict[Section, str] = {
    "published": "What went out",
    "failed": "What failed",
    "held": "What is held",
    "accounts": "New accounts",
    "other": "Also",
}
SECTION_COUNTS: dict[Section, str] = {
    "published": "posted",
    "failed": "failed",
    "held": "held",
    "accounts": "new account(s)",
    "other": "other",
}


class DigestNote(BaseModel):
    """One event as one digest target may see it, on its way to that target's digest (the
    internal digest topic's record, keyed by target)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str
    event_id: str
    event_type: str
    occurred_at: datetime
    section: Section
    line: str
    channel: str | None = None
    link: str | None = None  # a published post's public URL


class NoteInWindow(BaseModel):
    """A note as the digest table keeps it: with the window (its end) it was put in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    note: DigestNote
    window_end: datetime


def section_of(payload: EventPayload) -> Section:
    if isinstance(payload, PostPublished):
        return "published"
    if isinstance(payload, PostFailed) or (
        isinstance(payload, FeedStatusChanged) and payload.status == "broken"
    ):
        return "failed"
    if isinstance(payload, PostHeld):
        return "held"
    if isinstance(payload, StaffChanged) and (payload.before is None or payload.action == "add_account"):
        return "accounts"
    return "other"


def note_for(
    target: str,
    alert: Alert,
    payload: EventPayload,
    occurred_at: datetime,
    templates: Templates = DEFAULT_TEMPLATES,
) -> DigestNote:
    """The digest's line for an event: the alert's headline in the target's own templates, as this
    target may see it (so an outside target's digest is as private as its alerts)."""
    return DigestNote(
        target=target,
        event_id=alert.event_id,
        event_type=alert.event_type,
        occurred_at=occurred_at,
        section=section_of(payload),
        line=templates.headline(alert.kind, alert.facts),
        channel=alert.channel,
        link=payload.post_url if isinstance(payload, PostPublished) else None,
    )


def window_for(
    occurred_at: datetime, schedule: Schedule, zone: ZoneInfo, closed_through: datetime | None
) -> datetime:
    """The end of the window an event goes into: its own, or the first open one if that is closed."""
    end = schedule.next_after(occurred_at, zone)
    if closed_through is not None and end <= closed_through:
        return schedule.next_after(closed_through, zone)
    return end


def over_through(now: datetime, schedule: Schedule, zone: ZoneInfo) -> datetime:
    """The end of the latest window that is over at `now`: ended at least `SETTLE` ago, so the
    notes of events from just before the boundary, still on their way, are in it."""
    return schedule.last_at_or_before(now - SETTLE, zone)


def windows_to_close(
    notes: Iterable[NoteInWindow], closed_through: datetime | None, through: datetime
) -> dict[datetime, list[DigestNote]]:
    """The notes of every window that is over and not yet told, by window end, oldest first."""
    found: dict[datetime, list[DigestNote]] = defaultdict(list)
    for kept in notes:
        end = kept.window_end
        if end <= through and (closed_through is None or end > closed_through):
            found[end].append(kept.note)
    return {end: sorted(found[end], key=lambda n: (n.occurred_at, n.event_id)) for end in sorted(found)}


def digest_id(target: str, window_end: datetime) -> str:
    """The digest's own id (its alert's event id): one per target and window, whoever builds it."""
    return str(uuid.uuid5(DIGEST_NAMESPACE, f"{target}|{window_end.isoformat()}"))


def build(
    target: str,
    notes: list[DigestNote],
    *,
    window_start: datetime,
    window_end: datetime,
    zone: ZoneInfo,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Alert:
    """One message for a window: what went out per channel, what failed, what is held, new
    accounts, anything else — each note once. Its facts are worded by the `digest` templates, so
    each target's markup escapes every line (a hostile title stays text)."""
    start, end = window_start.astimezone(zone), window_end.astimezone(zone)
    counts = {section: sum(1 for n in notes if n.section == section) for section in SECTION_TITLES}
    facts = {
        "span": f"{start:%a %d %b %H:%M} – {end:%a %d %b %H:%M %Z}",
        "summary": ", ".join(f"{counts[s]} {SECTION_COUNTS[s]}" for s in SECTION_TITLES if counts[s]),
        "sections": [
            {"key": section, "title": title, "count": counts[section], "groups": _groups(section, notes)}
            for section, title in SECTION_TITLES.items()
            if counts[section]
        ],
    }
    worst = "error" if counts["failed"] else "warning" if counts["held"] else "info"
    return Alert(
        headline=templates.headline(DIGEST_KIND, facts),
        kind=DIGEST_KIND,
        facts=facts,
        event_type=DIGEST_EVENT_TYPE,
        event_id=digest_id(target, window_end),
        severity=worst,
        occurred_at=window_end.isoformat(),
    )


def _groups(section: Section, notes: list[DigestNote]) -> list[dict[str, Any]]:
    """A section's lines: what went out grouped per channel (by name), the others in one group."""
    mine = [n for n in notes if n.section == section]
    if section != "published":
        return [{"name": None, "notes": [_line(n) for n in mine]}]
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for note in mine:
        by_channel[CHANNEL_NAMES.get(note.channel or "", note.channel or "other")].append(_line(note))
    return [{"name": name, "notes": on} for name, on in sorted(by_channel.items())]


def _line(note: DigestNote) -> dict[str, Any]:
    return {"line": note.line, "link": note.link}
