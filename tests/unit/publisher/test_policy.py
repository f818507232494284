"""Policy decisions with plain data and a fixed clock (Europe/London)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from services.publisher.policy import (
    Blackout,
    Candidate,
    CostCap,
    CostConfig,
    PolicyConfig,
    QuietHours,
    SpendBook,
    evaluate,
)


def candidate(**overrides: object) -> Candidate:
    values = {
        "target": "x:corporate",
        "feed_id": "feed-news",
        "feed_url": "https://www.example.gov.uk/news.rss",
        "title": "Library opening hours",
        "summary": "",
        "text": "Library opening hours https://www.example.gov.uk/n/1",
        "has_link": True,
    }
    values.update(overrides)
    return Candidate(**values)  # type: ignore[arg-type]


QUIET = PolicyConfig(quiet_hours={"x": QuietHours(start=time(22), end=time(7))})


def test_nothing_configured_means_post_now() -> None:
    assert evaluate(candidate(), PolicyConfig(), datetime(2026, 3, 1, 12, tzinfo=UTC)) is None


def test_quiet_hours_hold_until_the_window_opens_in_london_time() -> None:
    # 23:30 BST on 1 July is 22:30 UTC: inside 22:00-07:00 London; released at 07:00 BST = 06:00 UTC.
    hold = evaluate(candidate(), QUIET, datetime(2026, 7, 1, 22, 30, tzinfo=UTC))
    assert hold is not None and hold.rule == "quiet_hours"
    assert hold.release_at == datetime(2026, 7, 2, 6, 0, tzinfo=UTC)
    # 21:30 UTC in July is 22:30 BST: already quiet in London although it is before 22:00 UTC.
    assert evaluate(candidate(), QUIET, datetime(2026, 7, 1, 21, 30, tzinfo=UTC)) is not None
    # In winter London is UTC: 21:30 UTC is not quiet.
    assert evaluate(candidate(), QUIET, datetime(2026, 1, 10, 21, 30, tzinfo=UTC)) is None
    # Early morning: released the same day.
    hold = evaluate(candidate(), QUIET, datetime(2026, 1, 10, 3, 0, tzinfo=UTC))
    assert hold is not None and hold.release_at == datetime(2026, 1, 10, 7, 0, tzinfo=UTC)


def test_quiet_hours_are_per_channel() -> None:
    night = datetime(2026, 1, 10, 23, 0, tzinfo=UTC)
    assert evaluate(candidate(target="mastodon:corporate"), QUIET, night) is None
    per_account = PolicyConfig(quiet_hours={"x:libraries": QuietHours(start=time(18), end=time(9))})
    assert evaluate(candidate(), per_account, night) is None
    assert evaluate(candidate(target="x:libraries"), per_account, night) is not None


def test_blackout_holds_until_it_ends() -> None:
    policy = PolicyConfig(
        blackouts=[Blackout(name="pre-election", start=datetime(2026, 4, 1), end=datetime(2026, 5, 8))]
    )
    hold = evaluate(candidate(), policy, datetime(2026, 4, 20, 12, tzinfo=UTC))
    assert hold is not None and hold.rule == "blackout" and "pre-election" in hold.reason
    assert hold.release_at == datetime(2026, 5, 7, 23, 0, tzinfo=UTC)  # midnight BST
    assert evaluate(candidate(), policy, datetime(2026, 5, 8, 12, tzinfo=UTC)) is None


def test_keyword_holds_with_the_matched_word_whole_words_only() -> None:
    policy = PolicyConfig(blocked_keywords=["strike", "road closure"])
    hold = evaluate(candidate(title="Bin STRIKE next week"), policy, datetime(2026, 1, 1, 12, tzinfo=UTC))
    assert hold is not None and hold.rule == "keyword" and "'strike'" in hold.reason
    assert hold.release_at is None
    assert (
        evaluate(candidate(title="Lightning strikes twice"), policy, datetime(2026, 1, 1, 12, tzinfo=UTC))
        is None
    )
    assert evaluate(
        candidate(summary="A road closure on the A38"), policy, datetime(2026, 1, 1, 12, tzinfo=UTC)
    )


def test_feeds_that_always_need_approval() -> None:
    policy = PolicyConfig(approval_feeds=["https://www.example.gov.uk/press/*", "feed-cabinet"])
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert (
        evaluate(candidate(feed_url="https://www.example.gov.uk/press/all.rss"), policy, now).rule
        == "approval"
    )  # type: ignore[union-attr]
    assert evaluate(candidate(feed_id="feed-cabinet"), policy, now) is not None
    assert evaluate(candidate(), policy, now) is None


def test_approved_posts_skip_every_rule() -> None:
    policy = PolicyConfig(
        blocked_keywords=["library"], quiet_hours={"*": QuietHours(start=time(0), end=time(23, 59))}
    )
    assert evaluate(candidate(approved=True), policy, datetime(2026, 1, 1, 12, tzinfo=UTC)) is None


def test_cost_cap_holds_rather_than_overspend() -> None:
    policy = PolicyConfig(
        cost=CostConfig(
            per_post=0.01, per_post_with_link=0.2, caps={"x:corporate": CostCap(daily=0.5, monthly=1.0)}
        )
    )
    now = datetime(2026, 1, 15, 12, tzinfo=UTC)
    spend = SpendBook(zone=policy.zone)
    spend.add("x:corporate", 0.4, now)
    hold = evaluate(candidate(), policy, now, spend)  # 0.4 + 0.2 > 0.5
    assert hold is not None and hold.rule == "cost_cap" and "daily" in hold.reason
    assert hold.release_at == datetime(2026, 1, 16, 0, 0, tzinfo=UTC)
    assert evaluate(candidate(has_link=False), policy, now, spend) is None  # 0.41 fits
    assert evaluate(candidate(target="x:libraries"), policy, now, spend) is None  # no cap there
    spend.add("x:corporate", 0.5, datetime(2026, 1, 14, 12, tzinfo=UTC))  # yesterday: month 0.9
    hold = evaluate(candidate(has_link=False, text="t"), policy, now, spend)
    assert hold is None  # 0.9 + 0.01 <= 1.0
    hold = evaluate(candidate(), policy, now, spend)
    assert hold is not None and "monthly" in hold.reason
    assert hold.release_at == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)


def test_blackout_wins_over_quiet_hours() -> None:
    policy = PolicyConfig(
        quiet_hours={"x": QuietHours(start=time(22), end=time(7))},
        blackouts=[Blackout(start=datetime(2026, 1, 1), end=datetime(2026, 2, 1))],
    )
    hold = evaluate(candidate(), policy, datetime(2026, 1, 10, 23, tzinfo=UTC))
    assert hold is not None and hold.rule == "blackout"
