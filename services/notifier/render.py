"""What a target may know of each event: the alert's template kind and its facts. Pure.

Rendered twice when needed: for `internal` targets (inside the council) private accounts' handles
are shown, marked "(private)"; for the others a private account is "a private account" and every
e-mail address in the facts is withheld (the directory's words are `directory_words`'). No alert
carries the event's `data` as such: only these facts and the event's identity leave the notifier.
The words are templates' (`templating.py`, `templates/`), each target's adapter rendering them in
its platform's markup at send time. Dry-run posts say so in the headline, so nobody mistakes the
outbox for X.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from services.notifier import directory_words
from services.notifier.staff import Known
from services.notifier.templating import DEFAULT_TEMPLATES, Templates
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
    """One alert as one target sees it, whatever carries it (stored in the delivery ledger): its
    template `kind` and the `facts` the templates word (already withheld for outside targets), the
    default headline (for logs and herald.forum.alerts) and the identity of its event."""

    headline: str
    kind: str
    facts: dict[str, Any]
    event_type: str
    event_id: str
    severity: str = "info"
    channel: str | None = None
    feed_id: str | None = None
    occurred_at: str = ""
    possible_repeat: bool = False

    def to_json(self) -> dict[str, Any]:
        """A flat copy; the facts are shared (never changed in place once made)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Alert:
        if "kind" not in data:  # recorded before templates: the words it was stored with
            data = {**data, "kind": "plain", "facts": {"headline": data["headline"], "text": data["text"]}}
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


class UnsupportedEvent(ValueError):
    """An event type the notifier has no words for (a programming error: the consumer filters)."""


def render(
    envelope: CloudEvent,
    payload: EventPayload,
    *,
    internal: bool,
    known: Known | None = None,
    templates: Templates = DEFAULT_TEMPLATES,
) -> Alert:
    """The alert for one event, as an internal target or an outside one may see it; a
    `StaffChanged` is worded from `known`, the person's record at its version, when there is one."""
    if isinstance(payload, StaffChanged):
        kind, facts = "staff_changed", _directory(directory_words.staff_changed(payload, internal, known))
    else:
        facts_of = _FACTS.get(type(payload))
        if facts_of is None:
            raise UnsupportedEvent(f"no alert for {envelope.type}")
        kind, facts = facts_of(payload, internal)
    if kind == "post_published":
        facts = with_posts(facts, [{**{name: facts[name] for name in POST_FACTS}, "event_id": envelope.id}])
    if not internal:
        facts = _withheld(facts)
    return Alert(
        headline=templates.headline(kind, facts),
        kind=kind,
        facts=facts,
        event_type=envelope.type,
        event_id=envelope.id,
        severity=_SEVERITY[type(payload)](payload) if type(payload) in _SEVERITY else "info",
        channel=getattr(payload, "channel", None),
        feed_id=getattr(payload, "feed_id", None),
        occurred_at=envelope.time.isoformat(),
    )


Facts = tuple[str, dict[str, Any]]

#: The facts of each post a `post_published` alert lists in `posts` (one, or its item's group).
POST_FACTS = ("channel", "account", "dry_run", "text", "post_url", "post_id", "published_at")


def with_posts(facts: dict[str, Any], posts: list[dict[str, Any]]) -> dict[str, Any]:
    """A published alert's facts listing `posts` (each with the event it came from): the
    `channels` they went to in words, and whether all were dry runs. The first post's facts stay at
    the top level, for templates written for one post."""
    names = [f"{post['channel']} ({post['account']})" for post in posts]
    channels = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return {**facts, "posts": posts, "channels": channels, "all_dry_run": all(p["dry_run"] for p in posts)}


def _post(p: PostPublished | PostFailed | PostHeld | PostApproved | PostDropped) -> dict[str, Any]:
    """What every post alert says: where, and which item (its title one line, else its id)."""
    facts: dict[str, Any] = {"channel": _channel(p.channel), "item_id": p.item_id}
    if hasattr(p, "account"):
        facts["account"] = p.account
    if hasattr(p, "title"):
        facts["title"] = " ".join(p.title.split()) or p.item_id
        facts["link"] = p.link
    return facts


def _post_published(p: PostPublished, internal: bool) -> Facts:
    return "post_published", {
        **_post(p),
        "dry_run": p.dry_run,
        "text": p.text,
        "post_url": p.post_url,
        "post_id": p.post_id,
        "published_at": p.published_at.isoformat(),
    }


def _post_failed(p: PostFailed, internal: bool) -> Facts:
    return "post_failed", {
        **_post(p),
        "attempts": p.attempts,
        "reason": p.reason,
        "error_code": p.error_code,
        "retryable": p.retryable,
        "failed_at": p.failed_at.isoformat(),
        "retry_until": p.retry_until.isoformat() if p.retry_until else None,
    }


def _held(p: PostHeld, internal: bool) -> Facts:
    release_at = p.release_at.isoformat() if p.release_at else None
    return "post_held", {
        **_post(p),
        "reason": p.reason,
        "release_at": release_at,
        "text": p.text,
        "rule": p.rule,
    }


def _approved(p: PostApproved, internal: bool) -> Facts:
    return "post_approved", {**_post(p), "approved_by": p.approved_by, "edited": p.edited, "text": p.text}


def _dropped(p: PostDropped, internal: bool) -> Facts:
    return "post_dropped", {**_post(p), "dropped_by": p.dropped_by, "reason": p.reason}


def _feed_status(e: FeedStatusChanged, internal: bool) -> Facts:
    if e.status == "broken":
        return "feed_broken", {
            "url": e.url,
            "since": e.since.isoformat(),
            "last_error": e.last_error,
            "feed_id": e.feed_id,
        }
    return "feed_recovered", {"url": e.url, "feed_id": e.feed_id}


def _feed_moved(e: FeedMoved, internal: bool) -> Facts:
    return "feed_moved", {
        "old_url": e.old_url,
        "new_url": e.new_url,
        "http_status": e.http_status,
        "feed_id": e.feed_id,
    }


def _directory(words: directory_words.Words) -> dict[str, Any]:
    headline, lines = words
    return {"headline": headline, "lines": lines}


def _withheld(value: Any) -> Any:
    """Every text in the facts with its e-mail addresses withheld (for an outside target)."""
    if isinstance(value, str):
        return withhold_addresses(value)
    if isinstance(value, list):
        return [_withheld(item) for item in value]
    if isinstance(value, dict):
        return {key: _withheld(item) for key, item in value.items()}
    return value


_SEVERITY: dict[type, Any] = {
    PostFailed: lambda p: "error",
    PostHeld: lambda p: "warning",
    StaffAccountChangeRejected: lambda p: "warning",
    FeedStatusChanged: lambda p: "error" if p.status == "broken" else "info",
    FeedMoved: lambda p: "warning",
}

_FACTS: dict[type, Any] = {
    PostPublished: _post_published,
    PostFailed: _post_failed,
    PostHeld: _held,
    PostApproved: _approved,
    PostDropped: _dropped,
    FeedStatusChanged: _feed_status,
    FeedMoved: _feed_moved,
    StaffErased: lambda e, internal: ("staff_erased", _directory(directory_words.staff_erased(e, internal))),
    StaffAccountChangeRejected: lambda e, internal: (
        "staff_rejected",
        _directory(directory_words.rejected(e, internal)),
    ),
}


def _channel(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)
