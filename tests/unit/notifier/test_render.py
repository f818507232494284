from datetime import UTC, datetime

import pytest

from services.notifier.render import Alert, UnsupportedEvent, render
from services.notifier.templating import DEFAULT_TEMPLATES, HEADLINE_MAX, TEXT
from shared.envelope import EventPayload, wrap
from shared.events import (
    FeedSubscribed,
    PostFailed,
    PostPublished,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def text(alert: Alert) -> str:
    return DEFAULT_TEMPLATES.body(TEXT, alert.kind, alert.facts)


def alert_for(payload: EventPayload, *, internal: bool = True) -> Alert:
    envelope = wrap(payload, source="/herald/test", time=NOW)
    alert = render(envelope, payload, internal=internal)
    assert alert.event_id == envelope.id and alert.event_type == payload.event_type
    assert "\n" not in alert.headline
    return alert


def published(**overrides: object) -> PostPublished:
    fields: dict = dict(
        item_id="item-1",
        channel="x",
        account="corporate",
        post_id="1790",
        text="Road closures this week https://x.example/1",
        post_url="https://x.com/dcc/status/1790",
        title="Road closures\nthis week",
        link="https://council.example/news/1",
        dry_run=False,
        published_at=NOW,
    )
    return PostPublished(**{**fields, **overrides})


def test_published_post() -> None:
    alert = alert_for(published())
    assert alert.headline == "Posted to X (corporate): Road closures this week"
    assert "https://x.com/dcc/status/1790" in text(alert)
    assert "https://council.example/news/1" in text(alert)
    assert "Road closures this week https://x.example/1" in text(alert)


def test_dry_run_post_says_so_in_the_headline() -> None:
    alert = alert_for(published(dry_run=True, post_url=None))
    assert alert.headline == "Posted to X (corporate) (dry run — outbox): Road closures this week"
    assert "dry run" in text(alert)


def test_untitled_post_falls_back_to_the_item_id() -> None:
    assert alert_for(published(title="  ")).headline == "Posted to X (corporate): item-1"


def test_long_titles_are_cut_to_one_short_line() -> None:
    headline = alert_for(published(title="word " * 100)).headline
    assert len(headline) == HEADLINE_MAX and headline.endswith("…")


def test_failed_post() -> None:
    alert = alert_for(
        PostFailed(
            item_id="item-1",
            channel="x",
            account="corporate",
            reason="duplicate content",
            error_code="http_403",
            retryable=False,
            attempts=1,
            title="Road closures",
            link=None,
            failed_at=NOW,
        )
    )
    assert alert.headline == "Post FAILED on X: Road closures — duplicate content"
    assert "http_403" in text(alert) and "will NOT try again" in text(alert)


def test_a_failing_channel_says_until_when_herald_keeps_trying() -> None:
    until = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    failing = PostFailed(
        item_id="item-1",
        channel="x",
        account="corporate",
        reason="503 Service Unavailable",
        error_code="http_503",
        retryable=True,
        attempts=4,
        failed_at=NOW,
        retry_until=until,
    )
    words = text(alert_for(failing))
    assert f"Herald keeps trying by itself until {until.isoformat()}" in words
    assert "held for a person" in words and "will NOT" not in words


def test_an_outside_target_never_sees_an_email_address() -> None:
    post = published(
        text="Ask sue.tylcoat@devon.gov.uk or press@council.example", title="Mail press@council.example"
    )
    inside, outside = alert_for(post), alert_for(post, internal=False)
    assert "sue.tylcoat@devon.gov.uk" in text(inside)
    assert "@devon.gov.uk" not in text(outside)
    assert "press@council.example" not in outside.headline + text(outside)
    assert "[address withheld]" in outside.headline
    assert "press@council.example" not in str(outside.facts)  # withheld in the facts, not only the words
    handle = alert_for(published(text="Follow @dcc@social.example"), internal=False)
    assert "@dcc@social.example" in text(handle)  # a public Mastodon handle is not an address


def test_the_alert_carries_no_event_data_and_survives_the_ledger() -> None:
    alert = alert_for(published())
    assert set(alert.to_json()) == {
        "headline",
        "kind",
        "facts",
        "event_type",
        "event_id",
        "severity",
        "channel",
        "feed_id",
        "occurred_at",
        "possible_repeat",
    }
    assert set(alert.facts) == {
        "channel",
        "account",
        "item_id",
        "title",
        "link",
        "dry_run",
        "text",
        "post_url",
        "post_id",
        "published_at",
        "posts",
        "channels",
        "all_dry_run",
    }
    [post] = alert.facts["posts"]  # a group of one, listing each post's own facts and its event
    assert set(post) == {
        "channel",
        "account",
        "dry_run",
        "text",
        "post_url",
        "post_id",
        "published_at",
        "event_id",
    }
    assert Alert.from_json(alert.to_json()) == alert
    assert alert.channel == "x" and alert.severity == "info"


def test_events_it_does_not_know_are_an_error() -> None:
    payload = FeedSubscribed(
        feed_id="f", url="https://council.example/feed", interval_seconds=60, subscribed_at=NOW
    )
    with pytest.raises(UnsupportedEvent):
        render(wrap(payload, source="/t"), payload, internal=True)


def test_an_alert_recorded_before_templates_is_rendered_from_its_stored_words() -> None:
    old = {"headline": "Posted to X", "text": "Posted:\nRoads\n", "event_type": "t", "event_id": "e"}
    alert = Alert.from_json(old)
    assert (alert.kind, DEFAULT_TEMPLATES.headline(alert.kind, alert.facts)) == ("plain", "Posted to X")
    assert text(alert) == "Posted:\nRoads"
