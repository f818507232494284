"""The alert templates: every kind renders in every format, hostile values stay text in each
markup, a target's own directory overrides the defaults (its values still escaped), and a missing
or broken template is one start-up error naming the setting, the target and the file."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.notifier.adapters.chat import render_slack
from services.notifier.config import NotifierConfigError, load_config
from services.notifier.examples import examples
from services.notifier.render import Alert, render
from services.notifier.targets import build_targets
from services.notifier.templating import (
    DEFAULT_TEMPLATES,
    FORMATS,
    GOOGLE_CHAT,
    HTML,
    MARKDOWN,
    SLACK,
    TEAMS,
    TEXT,
    ZWSP,
    Templates,
)
from shared.envelope import wrap
from shared.events import PostFailed

HOSTILE = (
    "<script>alert(1)</script> *bold* **strong** [x](http://evil.example) <!channel> @channel @everyone @here"
)


def failed(title: str = HOSTILE, link: str | None = "https://council.example/n/1") -> Alert:
    post = PostFailed(
        item_id="item-1",
        channel="x",
        account="corporate",
        reason=f"refused {HOSTILE}",
        error_code="http_403",
        retryable=False,
        attempts=1,
        title=title,
        link=link,
        failed_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    )
    return render(wrap(post, source="/herald/test"), post, internal=False)


def test_every_kind_renders_in_every_format() -> None:
    kinds = set()
    for kind, facts in examples():
        kinds.add(kind)
        assert DEFAULT_TEMPLATES.headline(kind, facts)
        for fmt in FORMATS:
            assert DEFAULT_TEMPLATES.body(fmt, kind, facts).strip(), (kind, fmt)
    shipped = {p.stem for p in (Path(__file__).parents[3] / "services/notifier/templates/kinds").glob("*.j2")}
    assert kinds == shipped - {"directory"}  # directory.j2 is the layout the directory's kinds include


@pytest.mark.parametrize("fmt", [HTML, SLACK, MARKDOWN, TEAMS, GOOGLE_CHAT])
def test_hostile_values_stay_text_in_every_markup(fmt: str) -> None:
    alert = failed()
    body = DEFAULT_TEMPLATES.body(fmt, alert.kind, alert.facts)
    headline = DEFAULT_TEMPLATES.escape(fmt, alert.headline)
    for shown in (body, headline):
        assert "<script>" not in shown and "@channel" not in shown and "@everyone" not in shown
        assert "@here" not in shown
        assert "<!channel>" not in shown
        if fmt in (SLACK, GOOGLE_CHAT):  # no escape in these markups: the marks are broken
            assert "*bold*" not in shown and f"*{ZWSP}bold*{ZWSP}" in shown
        if fmt in (MARKDOWN, TEAMS):  # no Markdown link from a value (elsewhere it is no markup)
            assert "\\*bold\\*" in shown and "\\[x\\]\\(http://evil\\.example\\)" in shown
        if fmt == HTML:
            assert "&lt;script&gt;" in shown and f"@{ZWSP}everyone" in shown
    # the one link in the body is Herald's own, to the item, labelled with the escaped title
    links = {HTML: r'<a href="([^"]*)">', SLACK: r"<(http[^|>]*)\|", GOOGLE_CHAT: r"<(http[^|>]*)\|"}
    links.update({MARKDOWN: r"\]\((http[^)]*)\)", TEAMS: r"\]\((http[^)]*)\)"})
    assert re.findall(links[fmt], body) == ["https://council.example/n/1"]


def test_only_http_links_are_made_and_plain_text_keeps_the_words() -> None:
    alert = failed(title="Roads", link="javascript:alert(1)")
    assert "href" not in DEFAULT_TEMPLATES.body(HTML, alert.kind, alert.facts)
    assert "javascript:alert(1)" in DEFAULT_TEMPLATES.body(TEXT, alert.kind, alert.facts)
    hostile = failed()
    text = DEFAULT_TEMPLATES.body(TEXT, hostile.kind, hostile.facts)
    assert HOSTILE in text and "Herald will NOT try again" in text  # e-mail's plain part: as written


def test_a_targets_own_templates_override_the_defaults_and_still_escape(tmp_path: Path) -> None:
    (tmp_path / "slack").mkdir()
    (tmp_path / "kinds").mkdir()
    (tmp_path / "headlines").mkdir()
    (tmp_path / "slack" / "post_failed.j2").write_text(
        "{{ 'Not posted'|bold }}: {{ title }} ({{ reason }})\n"
    )
    (tmp_path / "kinds" / "post_failed.j2").write_text("Not posted: {{ title }}\n")
    (tmp_path / "headlines" / "post_failed.j2").write_text("{{ channel }} refused {{ item_id }}\n")
    templates = Templates(tmp_path)
    templates.check(examples())
    alert = failed()
    slack = templates.body(SLACK, alert.kind, alert.facts)
    assert slack.startswith("*Not posted*: &lt;script&gt;") and "@channel" not in slack
    assert templates.body(MARKDOWN, alert.kind, alert.facts).startswith("Not posted: \\<script\\>")
    assert templates.body(HTML, "feed_moved", dict(examples_of("feed_moved"))) == DEFAULT_TEMPLATES.body(
        HTML, "feed_moved", dict(examples_of("feed_moved"))
    )  # kinds it does not override keep the defaults
    assert render_slack(alert, templates)["blocks"][0]["text"]["text"] == "X refused item-1"
    assert (
        templates.headline(alert.kind, alert.facts, possible_repeat=True)
        == "[possible repeat] X refused item-1"
    )


def examples_of(kind: str) -> dict:
    return next(facts for k, facts in examples() if k == kind)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"kinds/post_failed.j2": "{% if title %}never closed\n"},
            "kinds/post_failed.j2: line 1: Unexpected end of template",
        ),
        ({"slack/post_held.j2": "{{ no_such_fact }}\n"}, "slack/post_held.j2: 'no_such_fact' is undefined"),
        (
            {"headlines/feed_moved.j2": "{{ url|nofilter }}\n"},
            "headlines/feed_moved.j2: line 1: No filter named",
        ),
        (None, "no such directory"),
    ],
)
def test_a_broken_or_missing_template_is_one_start_up_error(
    tmp_path: Path, files: dict[str, str] | None, message: str
) -> None:
    directory = tmp_path / "mine"
    for name, text in (files or {}).items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    path = tmp_path / "notifier.yaml"
    path.write_text("targets: [{name: chat, kind: slack, url: {env: U}, templates: mine}]")
    config = load_config(path)
    assert config.targets[0].templates == directory  # relative to the targets file
    with pytest.raises(NotifierConfigError) as caught:
        build_targets(config, {"U": "http://127.0.0.1:9/hook"})
    error = str(caught.value)
    assert error.startswith("HERALD_NOTIFIER_CONFIG: target chat: templates: ") and "\n" not in error
    assert message in error and str(directory) in error


def test_a_query_string_survives_in_every_formats_link() -> None:
    alert = failed(title="Roads", link="https://council.example/n?id=1&page=2")
    assert "<https://council.example/n?id=1&amp;page=2|Roads>" in DEFAULT_TEMPLATES.body(
        SLACK, alert.kind, alert.facts
    )
    assert "(https://council.example/n?id=1&page=2)" in DEFAULT_TEMPLATES.body(
        MARKDOWN, alert.kind, alert.facts
    )
    assert 'href="https://council.example/n?id=1&amp;page=2"' in DEFAULT_TEMPLATES.body(
        HTML, alert.kind, alert.facts
    )


def hostile(value: object) -> object:
    """Every text in a fact made hostile, its shape kept (a digest's sections hold groups of notes)."""
    if isinstance(value, str):
        return HOSTILE
    if isinstance(value, dict):
        return {key: hostile(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return (
            [hostile(inner) for inner in value] if value and not isinstance(value[0], str) else [HOSTILE] * 2
        )
    return value


@pytest.mark.parametrize("fmt", [HTML, SLACK, MARKDOWN, TEAMS, GOOGLE_CHAT])
def test_every_kind_neutralises_hostile_values_in_every_fact(fmt: str) -> None:
    """Every text fact of every kind (titles, reasons, URLs, the directory's lines) hostile."""
    for kind, facts in examples():
        body = DEFAULT_TEMPLATES.body(fmt, kind, {key: hostile(value) for key, value in facts.items()})
        assert "<script>" not in body and "<!channel>" not in body, (kind, fmt)
        for mention in ("@channel", "@everyone", "@here"):
            assert mention not in body, (kind, fmt, mention)
        link = {HTML: "href", SLACK: "<http", GOOGLE_CHAT: "<http", MARKDOWN: "](http", TEAMS: "](http"}
        assert link[fmt] not in body, (kind, fmt)  # no link made of a value that is no URL
        if fmt in (MARKDOWN, TEAMS):
            assert "**strong**" not in body, (kind, fmt)
