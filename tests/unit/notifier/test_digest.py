"""Digest windows, closing and words; quiet hours and routed-item reminders — pure, with a fixed
clock (Europe/London)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.notifier import decide, digest, reminders
from services.notifier.config import NotifierConfigError, TargetConfig, load_config
from services.notifier.render import Alert, render
from services.notifier.templating import DEFAULT_TEMPLATES, FORMATS, TEXT, ZWSP, Templates
from shared.envelope import wrap
from shared.events import FeedItemDiscovered, PostPublished
from shared.localtime import Schedule

LONDON = ZoneInfo("Europe/London")
DAILY = Schedule(every="daily", at=time(8, 30))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def note(
    event_id: str, section: digest.Section = "published", channel: str | None = "x"
) -> digest.DigestNote:
    return digest.DigestNote(
        target="forum",
        event_id=event_id,
        event_type="herald.post.published.v1",
        occurred_at=utc(2026, 1, 10, 12),
        section=section,
        line=f"line {event_id}",
        channel=channel,
        link=f"https://x.com/dcc/{event_id[1:]}" if section == "published" else None,
    )


def test_an_event_goes_into_the_window_holding_its_time() -> None:
    assert digest.window_for(utc(2026, 1, 10, 8, 29), DAILY, LONDON, None) == utc(2026, 1, 10, 8, 30)
    assert digest.window_for(utc(2026, 1, 10, 8, 30), DAILY, LONDON, None) == utc(2026, 1, 11, 8, 30)
    # In summer 08:30 London is 07:30 UTC: an event at 07:45 UTC is already in the next window.
    assert digest.window_for(utc(2026, 7, 10, 7, 45), DAILY, LONDON, None) == utc(2026, 7, 11, 7, 30)


def test_a_late_event_goes_into_the_first_open_window_not_a_closed_one() -> None:
    closed = utc(2026, 1, 10, 8, 30)
    assert digest.window_for(utc(2026, 1, 10, 8, 0), DAILY, LONDON, closed) == utc(2026, 1, 11, 8, 30)
    assert digest.window_for(utc(2026, 1, 9, 8, 0), DAILY, LONDON, closed) == utc(2026, 1, 11, 8, 30)
    assert digest.window_for(utc(2026, 1, 10, 9, 0), DAILY, LONDON, closed) == utc(2026, 1, 11, 8, 30)


def test_windows_close_once_and_only_when_over() -> None:
    kept = [
        digest.NoteInWindow(note=note("a"), window_end=utc(2026, 1, 10, 8, 30)),
        digest.NoteInWindow(note=note("b"), window_end=utc(2026, 1, 11, 8, 30)),
        digest.NoteInWindow(note=note("c"), window_end=utc(2026, 1, 12, 8, 30)),
    ]
    now = utc(2026, 1, 11, 9)
    through = digest.over_through(now, DAILY, LONDON)
    assert through == utc(2026, 1, 11, 8, 30)
    first = digest.windows_to_close(kept, None, through)
    assert [[n.event_id for n in notes] for notes in first.values()] == [["a"], ["b"]]
    assert digest.windows_to_close(kept, through, through) == {}  # told: never again
    assert digest.over_through(utc(2026, 1, 12, 8, 30, 29), DAILY, LONDON) == through  # settling
    later = digest.over_through(utc(2026, 1, 12, 8, 30, 30), DAILY, LONDON)
    assert [
        n.event_id for notes in digest.windows_to_close(kept, through, later).values() for n in notes
    ] == ["c"]


def test_the_digest_groups_what_went_out_per_channel_and_tells_each_note_once() -> None:
    notes = [
        note("p1", channel="x"),
        note("p2", channel="mastodon"),
        note("p3", channel="x"),
        note("f1", "failed"),
        note("h1", "held"),
        note("s1", "accounts", channel=None),
    ]
    alert = digest.build(
        "forum", notes, window_start=utc(2026, 1, 10, 8, 30), window_end=utc(2026, 1, 11, 8, 30), zone=LONDON
    )
    text = DEFAULT_TEMPLATES.body(TEXT, alert.kind, alert.facts)
    for n in notes:
        assert text.count(n.line) == 1
    assert "What went out (3):" in text and "\nX (2):\n" in text and "\nMastodon (1):\n" in text
    assert "What failed (1):" in text and "What is held (1):" in text and "New accounts (1):" in text
    assert "- line p1 https://x.com/dcc/1\n" in text and "herald posts approve" in text
    assert "Sat 10 Jan 08:30 – Sun 11 Jan 08:30 GMT" in alert.headline
    assert alert.severity == "error"
    assert alert.event_id == digest.digest_id("forum", utc(2026, 1, 11, 8, 30))
    assert alert.event_id != digest.digest_id("forum", utc(2026, 1, 12, 8, 30))
    assert alert.event_id != digest.digest_id("other", utc(2026, 1, 11, 8, 30))


def test_a_whole_day_of_notes_split_at_the_boundary_and_closed_twice_tells_each_once() -> None:
    """Notes every 20 minutes across a boundary, the windows closed on the way (as a restart would
    find them): every note is in exactly one digest."""
    kept: list[digest.NoteInWindow] = []
    closed: datetime | None = None
    told: list[str] = []
    moment = utc(2026, 3, 28, 20)  # the night the clocks go forward
    for n in range(60):
        moment += timedelta(minutes=20)
        occurred = moment - timedelta(minutes=30 if n % 7 == 0 else 0)  # some arrive late
        end = digest.window_for(occurred, DAILY, LONDON, closed)
        kept.append(digest.NoteInWindow(note=note(f"e{n}"), window_end=end))
        through = digest.over_through(moment, DAILY, LONDON)
        for notes in digest.windows_to_close(kept, closed, through).values():
            told += [x.event_id for x in notes]
        closed = through
    through = digest.over_through(moment + timedelta(days=1), DAILY, LONDON)
    for notes in digest.windows_to_close(kept, closed, through).values():
        told += [x.event_id for x in notes]
    assert sorted(told) == sorted(f"e{n}" for n in range(60))


def forum(**fields: object) -> TargetConfig:
    return TargetConfig.model_validate({"name": "forum", "kind": "slack", "url": {"env": "U"}, **fields})


def test_quiet_hours_hold_an_alert_until_they_end_unless_its_severity_is_excepted() -> None:
    quiet = forum(quiet_hours={"start": "22:00", "end": "07:00", "except_severity": "error"})
    night = utc(2026, 7, 10, 22)  # 23:00 BST
    assert decide.quiet_until(quiet, "info", night, LONDON) == utc(2026, 7, 11, 6)
    assert decide.quiet_until(quiet, "warning", night, LONDON) == utc(2026, 7, 11, 6)
    assert decide.quiet_until(quiet, "error", night, LONDON) is None
    assert decide.quiet_until(quiet, "info", utc(2026, 7, 11, 6), LONDON) is None
    assert decide.quiet_until(forum(), "info", night, LONDON) is None


def item(published: datetime | None) -> FeedItemDiscovered:
    return FeedItemDiscovered(
        item_id="meet-1",
        feed_id="forum-events",
        feed_url="https://council.example/forum/events.rss",
        title="Social Media Forum: <b>March</b> meeting",
        link="https://council.example/forum/march",
        summary="Sharing practice on short video.",
        published=published,
        content_hash="h",
        discovered_at=utc(2026, 3, 1, 9),
    )


def test_a_reminder_is_due_its_lead_before_the_items_date() -> None:
    meeting = utc(2026, 3, 10, 14)
    payload = item(meeting)
    envelope = wrap(payload, source="/t")
    planned = reminders.plan(
        envelope, payload, remind_before=timedelta(days=1), now=utc(2026, 3, 1, 9), zone=LONDON
    )
    assert planned is not None and planned.send_at == utc(2026, 3, 9, 14)
    assert planned.alert.headline.startswith("Reminder: Social Media Forum: <b>March</b> meeting")
    assert "Tuesday 10 March 2026, 14:00 GMT" in planned.alert.headline
    assert "https://council.example/forum/march" in DEFAULT_TEMPLATES.body(
        TEXT, "feed_item", planned.alert.facts
    )
    # Found after its reminder time but before the meeting: at once. After the meeting: nothing.
    late = reminders.plan(
        envelope, payload, remind_before=timedelta(days=1), now=utc(2026, 3, 10, 9), zone=LONDON
    )
    assert late is not None and late.send_at == utc(2026, 3, 10, 9)
    assert (
        reminders.plan(envelope, payload, remind_before=timedelta(days=1), now=meeting, zone=LONDON) is None
    )
    # Without a lead, or without a date, it is announced when found.
    now = utc(2026, 3, 1, 9)
    assert reminders.plan(envelope, payload, remind_before=None, now=now, zone=LONDON).send_at == now  # type: ignore[union-attr]
    undated = item(None)
    found = reminders.plan(
        wrap(undated, source="/t"), undated, remind_before=timedelta(days=1), now=now, zone=LONDON
    )
    assert found is not None and found.send_at == now
    assert "no date" in DEFAULT_TEMPLATES.body(TEXT, found.alert.kind, found.alert.facts)


def test_the_targets_file_takes_digests_quiet_hours_and_routed_items(tmp_path: Path) -> None:
    path = tmp_path / "n.yaml"
    path.write_text(
        """
timezone: Europe/London
targets:
  - name: forum-digest
    kind: slack
    url: {env: U}
    digest: {every: weekly, at: "08:30", weekday: monday}
    quiet_hours: {start: "22:00", end: "07:00", except_severity: error}
  - name: forum-events
    kind: slack
    url: {env: U}
    items: {feeds: [forum-events], remind_before: 1d12h}
"""
    )
    config = load_config(path)
    weekly, events = config.targets
    assert weekly.digest == Schedule(every="weekly", at=time(8, 30), weekday="monday")
    assert weekly.quiet_hours is not None and weekly.quiet_hours.except_severity == "error"
    assert events.items is not None and events.items.remind_before == timedelta(days=1, hours=12)
    path.write_text(
        "targets: [{name: a, kind: slack, url: {env: U}, items: {feeds: [f], remind_before: soon}}]"
    )
    with pytest.raises(NotifierConfigError, match=r"targets\.0\.items\.remind_before: .*not a duration"):
        load_config(path)
    path.write_text("targets: [{name: a, kind: slack, url: {env: U}, digest: {every: weekly}}]")
    with pytest.raises(NotifierConfigError, match="weekday"):
        load_config(path)
    path.write_text("timezone: Mars/Olympus\ntargets: []")
    with pytest.raises(NotifierConfigError, match="unknown time zone"):
        load_config(path)


def test_a_target_for_feed_items_hears_other_events_only_when_it_says_so() -> None:
    alert = Alert(headline="h", kind="plain", facts={}, event_type="herald.post.published.v1", event_id="e")
    items = {"feeds": ["forum-events"]}
    assert not decide.wanted(forum(items=items), alert)
    assert decide.wanted(forum(items=items, wants={}), alert)
    assert decide.wanted(forum(), alert)


HOSTILE = "<script>x</script> *bold* [x](http://evil.example) <!channel> @channel @everyone"


def hostile_texts() -> list[tuple[str, str]]:
    """(format, text) of a digest and a reminder whose lines and title are hostile, in every markup."""
    notes = [note("p1").model_copy(update={"line": f"Posted: {HOSTILE}"}), note("h1", "held")]
    built = digest.build(
        "forum", notes, window_start=utc(2026, 1, 10, 8, 30), window_end=utc(2026, 1, 11, 8, 30), zone=LONDON
    )
    payload = item(utc(2026, 3, 10, 14)).model_copy(update={"title": HOSTILE, "summary": HOSTILE})
    planned = reminders.plan(
        wrap(payload, source="/t"), payload, remind_before=timedelta(days=1), now=utc(2026, 3, 1), zone=LONDON
    )
    assert planned is not None
    shown = []
    for fmt in FORMATS:
        if fmt != TEXT:
            shown.append((fmt, DEFAULT_TEMPLATES.body(fmt, built.kind, built.facts)))
            shown.append((fmt, DEFAULT_TEMPLATES.body(fmt, planned.alert.kind, planned.alert.facts)))
            shown.append((fmt, DEFAULT_TEMPLATES.escape(fmt, planned.alert.headline)))
    return shown


def test_hostile_titles_stay_text_in_digests_and_reminders_in_every_markup() -> None:
    for fmt, text in hostile_texts():
        assert "<script>" not in text and "<!channel>" not in text, fmt
        assert "@channel" not in text and "@everyone" not in text, fmt
        if fmt in ("slack", "google_chat"):  # no escape in these markups: the marks are broken
            assert "*bold*" not in text and f"*{ZWSP}bold*{ZWSP}" in text, fmt
        if fmt in ("markdown", "teams"):  # no Markdown link from a value
            assert "\\*bold\\*" in text and "\\[x\\]\\(http://evil\\.example\\)" in text, fmt
        if fmt == "html":
            assert "&lt;script&gt;" in text, fmt
        assert "evil" in text, fmt  # shown, as text


def test_a_digest_links_each_post_and_bolds_its_sections_in_the_targets_markup() -> None:
    built = digest.build(
        "forum",
        [note("p1")],
        window_start=utc(2026, 1, 10, 8, 30),
        window_end=utc(2026, 1, 11, 8, 30),
        zone=LONDON,
    )
    body = {fmt: DEFAULT_TEMPLATES.body(fmt, built.kind, built.facts) for fmt in FORMATS}
    assert "<strong>What went out (1):</strong>" in body["html"]
    assert '<a href="https://x.com/dcc/1">https://x.com/dcc/1</a>' in body["html"]
    assert (
        "*What went out (1):*" in body["slack"]
        and "<https://x.com/dcc/1|https://x.com/dcc/1>" in body["slack"]
    )
    assert "[https://x\\.com/dcc/1](https://x.com/dcc/1)" in body["markdown"]


def test_a_digest_line_is_the_headline_in_the_targets_own_templates(tmp_path: Path) -> None:
    (tmp_path / "headlines").mkdir()
    (tmp_path / "headlines/post_published.j2").write_text("On {{ channel }}: {{ title }}\n")
    post = PostPublished(
        item_id="item-1",
        channel="x",
        account="corporate",
        post_id="1",
        post_url="https://x.com/dcc/1",
        text="Roads",
        title="Road closures",
        dry_run=False,
        published_at=utc(2026, 3, 1, 9),
    )
    envelope = wrap(post, source="/t")
    alert = render(envelope, post, internal=False)
    own = digest.note_for("forum", alert, post, envelope.time, Templates(tmp_path))
    assert own.line == "On X: Road closures" and own.link == "https://x.com/dcc/1"
    assert digest.note_for("forum", alert, post, envelope.time).line == alert.headline != own.line
