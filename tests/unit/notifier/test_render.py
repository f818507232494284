from datetime import UTC, datetime

import pytest

from services.notifier.render import HEADLINE_MAX, Alert, UnsupportedEvent, render
from shared.envelope import EventPayload, wrap
from shared.events import (
    FeedSubscribed,
    PostFailed,
    PostPublished,
    StaffAccount,
    StaffAccountAdded,
    StaffAccountChangeRejected,
    StaffAccountRemoved,
    StaffAccountUpdated,
)

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SUE = StaffAccount(
    staff_id="sue-tylcoat", name="Sue Tylcoat", role="Solutions Development Manager", handle="suety"
)
PIP = StaffAccount(staff_id="pip-tucker", name="Pip Tucker", handle="piptucker", private=True)


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
    assert "https://x.com/dcc/status/1790" in alert.text
    assert "https://council.example/news/1" in alert.text
    assert "Road closures this week https://x.example/1" in alert.text


def test_dry_run_post_says_so_in_the_headline() -> None:
    alert = alert_for(published(dry_run=True, post_url=None))
    assert alert.headline == "Posted to X (corporate) (dry run — outbox): Road closures this week"
    assert "dry run" in alert.text


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
    assert "http_403" in alert.text and "will NOT try again" in alert.text


def test_handle_change() -> None:
    now = SUE.model_copy(update={"handle": "sue_t"})
    alert = alert_for(
        StaffAccountUpdated(
            request_id="r", account=now, previous=SUE, changed_fields=["handle"], changed_at=NOW
        )
    )
    assert alert.headline == "Directory: Sue Tylcoat's X handle changed @suety → @sue_t"
    assert "handle: @suety → @sue_t" in alert.text


def test_private_handles_are_shown_but_marked() -> None:
    moved = PIP.model_copy(update={"handle": "pip_t"})
    alert = alert_for(
        StaffAccountUpdated(
            request_id="r", account=moved, previous=PIP, changed_fields=["handle"], changed_at=NOW
        )
    )
    assert (
        alert.headline == "Directory: Pip Tucker's X handle changed @piptucker (private) → @pip_t (private)"
    )
    added = alert_for(StaffAccountAdded(request_id="r", account=PIP, changed_at=NOW))
    assert added.headline == "Directory: Pip Tucker added on X as @piptucker (private)"


def test_other_updates_name_the_fields() -> None:
    now = SUE.model_copy(update={"role": "Head of Digital"})
    alert = alert_for(
        StaffAccountUpdated(
            request_id="r", account=now, previous=SUE, changed_fields=["role"], changed_at=NOW
        )
    )
    assert alert.headline == "Directory: Sue Tylcoat's account updated (role)"
    assert "role: Solutions Development Manager → Head of Digital" in alert.text


def test_removed_and_rejected() -> None:
    removed = alert_for(StaffAccountRemoved(request_id="r", account=SUE, changed_at=NOW))
    assert removed.headline == "Directory: Sue Tylcoat's X account @suety removed"
    refused = alert_for(
        StaffAccountChangeRejected(
            request_id="r", staff_id="bob", action="add", reason="invalid X handle 'a b': …", rejected_at=NOW
        )
    )
    assert refused.headline == "Directory change REJECTED (add bob): invalid X handle 'a b': …"


def test_an_outside_target_never_sees_a_private_handle() -> None:
    moved = StaffAccountUpdated(
        request_id="r",
        account=PIP.model_copy(update={"handle": "pip_t"}),
        previous=PIP,
        changed_fields=["handle", "role"],
        changed_at=NOW,
    )
    inside, outside = alert_for(moved), alert_for(moved, internal=False)
    assert "@piptucker (private)" in inside.headline and "@pip_t (private)" in inside.text
    assert (
        outside.headline == "Directory: Pip Tucker's X handle changed a private account → a private account"
    )
    for text in (outside.headline, outside.text):
        assert "piptucker" not in text and "pip_t" not in text
    added = alert_for(StaffAccountAdded(request_id="r", account=PIP, changed_at=NOW), internal=False)
    assert "piptucker" not in added.headline + added.text


def test_an_outside_target_never_sees_an_email_address() -> None:
    post = published(
        text="Ask sue.tylcoat@devon.gov.uk or press@council.example", title="Mail press@council.example"
    )
    inside, outside = alert_for(post), alert_for(post, internal=False)
    assert "sue.tylcoat@devon.gov.uk" in inside.text
    assert (
        "@devon.gov.uk" not in outside.text and "press@council.example" not in outside.headline + outside.text
    )
    assert "[address withheld]" in outside.headline


def test_the_alert_carries_no_event_data_and_survives_the_ledger() -> None:
    alert = alert_for(published())
    assert set(alert.to_json()) == {
        "headline",
        "text",
        "event_type",
        "event_id",
        "severity",
        "channel",
        "feed_id",
        "occurred_at",
    }
    assert Alert.from_json(alert.to_json()) == alert
    assert alert.channel == "x" and alert.severity == "info"


def test_events_it_does_not_know_are_an_error() -> None:
    payload = FeedSubscribed(
        feed_id="f", url="https://council.example/feed", interval_seconds=60, subscribed_at=NOW
    )
    with pytest.raises(UnsupportedEvent):
        render(wrap(payload, source="/t"), payload, internal=True)
