"""Published alerts grouped per item: one message with each channel's post, not one per channel. Pure.

An item posted to X, Mastodon and Bluesky gives three `PostPublished` events within seconds of each
other. For every target the first one opens a group — a ledger entry keyed by the item
(`group_key`), due `group_published` seconds later — and the others join it while it has not been
tried yet. A post published after its group was tried (sending, sent, retried or given up) gets an
alert of its own, keyed by its event as any other alert. A group lists each post with the event it
came from (`posts`), so a redelivered or replayed event that already joined finds itself there and
changes nothing.
"""

from __future__ import annotations

from enum import Enum

from services.notifier import decide
from services.notifier.ledger import DeliveryEntry, DeliveryState
from services.notifier.render import Alert, with_posts
from services.notifier.templating import DEFAULT_TEMPLATES, Templates


class Join(Enum):
    OPEN = "open"  # no group yet: this post opens one
    JOIN = "join"  # a group waits: this post joins it
    ALREADY = "already"  # this event is in the group already (a redelivery or a replay)
    ALONE = "alone"  # the group was tried: this post gets an alert of its own


def group_key(item_id: str, target: str) -> str:
    """The ledger key of an item's grouped published alert for a target."""
    return decide.alert_id(f"item:{item_id}", target, "published")


def joining(group: DeliveryEntry | None, event_id: str) -> Join:
    """What a published post does with its item's group entry (None: there is none yet)."""
    if group is None:
        return Join.OPEN
    if any(post.get("event_id") == event_id for post in group.alert["facts"].get("posts", [])):
        return Join.ALREADY
    if group.state is DeliveryState.PENDING and group.attempts == 0:
        return Join.JOIN
    return Join.ALONE


def joined(group: Alert, alert: Alert, templates: Templates = DEFAULT_TEMPLATES) -> Alert:
    """The group with the posts of `alert` added, in the order the channels published them."""
    posts = sorted(
        [*group.facts["posts"], *alert.facts["posts"]], key=lambda post: post.get("published_at") or ""
    )
    facts = with_posts(group.facts, posts)
    return Alert(**{**group.to_json(), "facts": facts, "headline": templates.headline(group.kind, facts)})
