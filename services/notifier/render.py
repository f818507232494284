"""What a target reads for each event: a one-line headline and a plain-text body. Pure.

Rendered twice when needed: for `internal` targets (inside the council) private accounts' handles
are shown, marked "(private)"; for the others a private account is "a private account" and every
e-mail address is withheld (the directory's words are `directory_words`'). No rendering carries the
event's `data` as such: only these texts and the event's identity leave the notifier. Each target's
format (`services/notifier/adapters/`) escapes the texts for its markup. Dry-run posts say so in the
headline, so nobody mistakes the outbox for X.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from services.notifier import directory_words
from services.notifier.staff import Known
from shared.envelope import CloudEvent, EventPayload
from shared.events import (
    FeedMoved,
    FeedStatusChanged,
    PostApproved,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
    StaffAccountChangeRejected,
    StaffChanged,
    StaffErased,
)

HEADLINE_MAX = 200

CHANNEL_NAMES = {"x": "X", "outbox": "the outbox", "mastodon": "Mastodon", "bluesky": "Bluesky"}


#: An e-mail address, but not the `user@host` of a Mastodon handle `@user@host` (a public handle).
EMAIL_ADDRESS = re.compile(r"(?<![@\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
WITHHELD_ADDRESS = "[address withheld]"


def withhold_addresses(text: str) -> str:
    """`text` with every e-mail address replaced: what an outside target, a log or a public topic
    may carry."""
    return EMAIL_ADDRESS.sub(WITHHELD_ADDRESS, text)


@dataclass(frozen=True)
class Alert:
    """One alert as one target sees it, whatever carries it (stored in the delivery ledger)."""

    headline: str
    text: str
    event_type: str
    event_id: str
    severity: str = "info"
    channel: str | None = None
    feed_id: str | None = None
    occurred_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class UnsupportedEvent(ValueError):
    """An event type the notifier has no words for (a programming error: the consumer filters)."""


def render(
    envelope: CloudEvent, payload: EventPayload, *, internal: bool, known: Known | None = None
) -> Alert:
    """The alert for one event, as an internal target or an outside one may see it; a
    `StaffChanged` is worded from `known`, the person's record at its version, when there is one."""
    if isinstance(payload, StaffChanged):
        headline, lines = directory_words.staff_changed(payload, internal, known)
    else:
        renderer = _RENDERERS.get(type(payload))
        if renderer is None:
            raise UnsupportedEvent(f"no alert for {envelope.type}")
        headline, lines = renderer(payload, internal)
    text = "\n".join(lines).rstrip() + "\n"
    headline = one_line(headline)
    if not internal:
        headline, text = (
            withhold_addresses(headline),
            withhold_addresses(text),
        )
    return Alert(
        headline=headline,
        text=text,
        event_type=envelope.type,
        event_id=envelope.id,
        severity=_SEVERITY[type(payload)](payload) if type(payload) in _SEVERITY else "info",
        channel=getattr(payload, "channel", None),
        feed_id=getattr(payload, "feed_id", None),
        occurred_at=envelope.time.isoformat(),
    )


def _post_published(p: PostPublished, internal: bool) -> tuple[str, list[str]]:
    where = f"{_channel(p.channel)} ({p.account})"
    dry = " (dry run — outbox)" if p.dry_run else ""
    lines = [f"Posted to {where}{dry}:", "", p.text, ""]
    if p.dry_run:
        lines.append("This was a dry run: no social channel was called; the post is in the outbox.")
    if p.post_url:
        lines.append(f"Post: {p.post_url}")
    if p.link:
        lines.append(f"Item: {p.link}")
    lines += [f"Item id: {p.item_id}", f"Post id: {p.post_id}", f"Published at: {p.published_at.isoformat()}"]
    return f"Posted to {where}{dry}: {_title(p.title, p.item_id)}", lines


def _post_failed(p: PostFailed, internal: bool) -> tuple[str, list[str]]:
    retry = (
        "Herald will try again by itself." if p.retryable else "Herald will NOT try again: someone must act."
    )
    lines = [
        f"Posting to {_channel(p.channel)} ({p.account}) failed after {p.attempts} attempt(s).",
        f"Reason: {p.reason} ({p.error_code})",
        retry,
        "",
    ]
    if p.link:
        lines.append(f"Item: {p.link}")
    lines += [f"Item id: {p.item_id}", f"Failed at: {p.failed_at.isoformat()}"]
    return f"Post FAILED on {_channel(p.channel)}: {_title(p.title, p.item_id)} — {p.reason}", lines


def _held(p: PostHeld, internal: bool) -> tuple[str, list[str]]:
    when = (
        f"It goes out by itself at {p.release_at.isoformat()}."
        if p.release_at
        else "It waits for a person: `herald posts approve` or `herald posts drop`."
    )
    lines = [f"A post to {_channel(p.channel)} ({p.account}) is held: {p.reason}", when, "", p.text, ""]
    if p.link:
        lines.append(f"Item: {p.link}")
    lines += [f"Item id: {p.item_id}", f"Rule: {p.rule}"]
    return f"Post HELD for {_channel(p.channel)} ({p.rule}): {_title(p.title, p.item_id)}", lines


def _approved(p: PostApproved, internal: bool) -> tuple[str, list[str]]:
    edited = " with edited text" if p.edited else ""
    lines = [f"{p.approved_by} approved the held post{edited}; it goes out now:", "", p.text, ""]
    return f"Post approved for {_channel(p.channel)} by {p.approved_by}: {p.item_id}", [
        *lines,
        f"Item id: {p.item_id}",
    ]


def _dropped(p: PostDropped, internal: bool) -> tuple[str, list[str]]:
    why = f" ({p.reason})" if p.reason else ""
    return f"Post dropped for {_channel(p.channel)} by {p.dropped_by}: {p.item_id}{why}", [
        f"{p.dropped_by} dropped the held post{why}; it will not go out.",
        f"Item id: {p.item_id}",
    ]


def _feed_status(e: FeedStatusChanged, internal: bool) -> tuple[str, list[str]]:
    if e.status == "broken":
        return f"Feed BROKEN: {e.url} — {e.last_error or 'failing'}", [
            f"The feed {e.url} has been failing since {e.since.isoformat()}.",
            f"Latest error: {e.last_error or '—'}",
            "Herald keeps trying; nothing from this feed is posted until it recovers.",
            f"Feed id: {e.feed_id}",
        ]
    return f"Feed recovered: {e.url}", [f"The feed {e.url} works again.", f"Feed id: {e.feed_id}"]


def _feed_moved(e: FeedMoved, internal: bool) -> tuple[str, list[str]]:
    return f"Feed moved: {e.old_url} → {e.new_url}", [
        f"The feed answered HTTP {e.http_status}: it now lives at {e.new_url}.",
        "Herald follows it there; update any links you keep to the old address.",
        f"Feed id: {e.feed_id}",
    ]


_SEVERITY: dict[type, Any] = {
    PostFailed: lambda p: "error",
    PostHeld: lambda p: "warning",
    StaffAccountChangeRejected: lambda p: "warning",
    FeedStatusChanged: lambda p: "error" if p.status == "broken" else "info",
    FeedMoved: lambda p: "warning",
}

_RENDERERS: dict[type, Any] = {
    PostPublished: _post_published,
    PostFailed: _post_failed,
    PostHeld: _held,
    PostApproved: _approved,
    PostDropped: _dropped,
    FeedStatusChanged: _feed_status,
    FeedMoved: _feed_moved,
    StaffErased: directory_words.staff_erased,
    StaffAccountChangeRejected: directory_words.rejected,
}


def _channel(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


def _title(title: str, fallback: str) -> str:
    return one_line(title) or fallback


def one_line(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= HEADLINE_MAX else flat[: HEADLINE_MAX - 1] + "…"
