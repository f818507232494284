"""An item's published posts grouped into one alert per target: who opens, who joins, who is
already in, who goes alone; and what the group says in every format."""

from datetime import UTC, datetime, timedelta

from services.notifier.grouping import Join, group_key, joined, joining
from services.notifier.ledger import DeliveryEntry
from services.notifier.render import Alert, render
from services.notifier.templating import DEFAULT_TEMPLATES, FORMATS, SLACK, TEXT
from shared.envelope import wrap
from shared.events import PostPublished

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> *Roads* @everyone"


def alert(channel: str, post_url: str, *, seconds: int = 0, dry_run: bool = False) -> Alert:
    payload = PostPublished(
        item_id="item-1",
        channel=channel,
        account="corporate",
        post_id=f"{channel}-1",
        post_url=post_url,
        text=f"Road closures on {channel}",
        title=HOSTILE,
        link="https://council.example/news/1",
        dry_run=dry_run,
        published_at=NOW + timedelta(seconds=seconds),
    )
    return render(wrap(payload, source="/herald/test", time=NOW), payload, internal=False)


def entry_for(group: Alert) -> DeliveryEntry:
    return DeliveryEntry.new(
        target="chat",
        alert=group.to_json(),
        partition=0,
        now=NOW,
        source_topic="herald.posts",
        source_key="item-1",
        source_value="{}",
        not_before=NOW + timedelta(seconds=10),
    )


def test_the_first_post_opens_a_group_the_next_join_and_a_redelivery_changes_nothing() -> None:
    x = alert("x", "https://x.com/dcc/status/1")
    group = entry_for(x)
    assert joining(None, x.event_id) is Join.OPEN
    assert joining(group, x.event_id) is Join.ALREADY
    mastodon = alert("mastodon", "https://social.example/@dcc/2", seconds=2)
    assert joining(group, mastodon.event_id) is Join.JOIN
    grown = group.with_alert(joined(Alert.from_json(group.alert), mastodon).to_json(), NOW)
    assert grown.next_at == group.next_at and grown.first_at == group.first_at  # still due when it was
    assert joining(grown, mastodon.event_id) is Join.ALREADY


def test_a_post_after_its_group_was_tried_goes_alone() -> None:
    group = entry_for(alert("x", "https://x.com/dcc/status/1"))
    late = alert("bluesky", "https://bsky.app/profile/dcc/post/3", seconds=30)
    assert joining(group.sending(NOW), late.event_id) is Join.ALONE
    assert joining(group.sending(NOW).delivered(NOW), late.event_id) is Join.ALONE
    retried = group.sending(NOW).retry_at(NOW + timedelta(seconds=5), "502", maybe_sent=False)
    assert joining(retried, late.event_id) is Join.ALONE  # its words may have arrived already


def test_the_group_key_is_per_item_and_target() -> None:
    assert group_key("item-1", "chat") == group_key("item-1", "chat")
    assert len({group_key("item-1", "chat"), group_key("item-2", "chat"), group_key("item-1", "mail")}) == 3


def test_one_message_names_every_channel_with_its_link_in_publishing_order() -> None:
    x = alert("x", "https://x.com/dcc/status/1", seconds=1)
    mastodon = alert("mastodon", "https://social.example/@dcc/2", seconds=0)
    bluesky = alert("bluesky", "https://bsky.app/profile/dcc/post/3", seconds=4)
    group = joined(joined(x, mastodon), bluesky)
    assert [post["channel"] for post in group.facts["posts"]] == ["Mastodon", "X", "Bluesky"]
    assert group.headline.startswith(
        "Posted to Mastodon (corporate), X (corporate) and Bluesky (corporate): "
    )
    body = DEFAULT_TEMPLATES.body(TEXT, group.kind, group.facts)
    for url in (
        "https://x.com/dcc/status/1",
        "https://social.example/@dcc/2",
        "https://bsky.app/profile/dcc/post/3",
    ):
        assert body.count(url) == 1
    assert (
        body.index("Road closures on mastodon")
        < body.index("Road closures on x")
        < body.index("Road closures on bluesky")
    )
    slack = DEFAULT_TEMPLATES.body(SLACK, group.kind, group.facts)
    assert "<!channel>" not in slack and "@everyone" not in slack  # the hostile title stays text
    for fmt in FORMATS:  # every format renders a group
        assert DEFAULT_TEMPLATES.body(fmt, group.kind, group.facts)


def test_dry_runs_say_so_per_post_and_in_the_headline_only_when_all_were() -> None:
    mixed = joined(alert("x", "https://x.com/dcc/status/1"), alert("outbox", "", dry_run=True))
    assert "dry run" not in mixed.headline
    assert "dry run" in DEFAULT_TEMPLATES.body(TEXT, mixed.kind, mixed.facts)
    both = joined(alert("outbox", "", dry_run=True), alert("outbox", "", dry_run=True, seconds=1))
    assert "(dry run — outbox)" in both.headline
