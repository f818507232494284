"""Each target's pure rendering: the platform's documented shape and limits, with hostile titles
(markup, mentions, HTML, huge) kept as text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser

from services.notifier.adapters.chat import (
    render_discord,
    render_google_chat,
    render_mattermost,
    render_slack,
    render_teams,
)
from services.notifier.adapters.email import render_email
from services.notifier.adapters.matrix import matrix_path, render_matrix
from services.notifier.adapters.webhook import render_webhook, signature
from services.notifier.render import Alert, render
from shared.envelope import wrap
from shared.events import PostPublished

HOSTILE = (
    "<!channel> @everyone @here <script>alert(1)</script> **bold** [x](http://evil.example) & <users/all>"
)


def alert(title: str = HOSTILE, body_lines: int = 3) -> Alert:
    """A published post whose title and text are `title` (the text `body_lines` lines of it)."""
    post = PostPublished(
        item_id="item-1",
        channel="x",
        account="corporate",
        post_id="1790",
        post_url="https://x.example/1790",
        text="\n".join(f"line {n}: {title}" for n in range(body_lines)),
        title=title,
        link="https://council.example/news/1",
        dry_run=False,
        published_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
    )
    return render(wrap(post, source="/herald/test"), post, internal=False)


HUGE = alert("x" * 150, body_lines=2000)  # ~330,000 characters of body


def test_slack_block_kit_shape_limits_and_escaping() -> None:
    for a in (alert(), HUGE):
        body = render_slack(a)
        blocks = body["blocks"]
        assert len(blocks) <= 50 and blocks[0]["type"] == "header" and blocks[-1]["type"] == "context"
        assert blocks[0]["text"]["type"] == "plain_text" and len(blocks[0]["text"]["text"]) <= 150
        for block in blocks[1:-1]:
            assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
            assert len(block["text"]["text"]) <= 3000
    text = (
        " ".join(b["text"]["text"] for b in render_slack(alert())["blocks"][1:-1])
        + render_slack(alert())["text"]
    )
    ours = re.compile(r"<(https://x\.example/1790|https://council\.example/news/1)\|[^<>|]*>")
    left = re.sub(r"(?m)^> ", "", ours.sub("", text))  # less Herald's own links and quote marks
    assert "<" not in left and ">" not in left
    assert "&lt;!channel&gt;" in text and "**bold**" not in text and "@here" not in text


def test_discord_embed_limits_and_no_mentions() -> None:
    for a in (alert(), HUGE):
        body = render_discord(a)
        assert body["allowed_mentions"] == {"parse": []} and len(body["embeds"]) <= 10
        embed = body["embeds"][0]
        assert len(embed["title"]) <= 256 and len(embed["description"]) <= 4096
        assert len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"]) <= 6000
    embed = render_discord(alert())["embeds"][0]
    assert "@everyone" not in embed["description"] and "\\*\\*bold\\*\\*" in embed["description"]


def test_teams_adaptive_card_within_28_kb() -> None:
    for a in (alert(), HUGE):
        card = render_teams(a)
        assert len(json.dumps(card).encode()) <= 28 * 1024
        [attachment] = card["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        content = attachment["content"]
        assert content["type"] == "AdaptiveCard" and content["version"] == "1.4"
        assert all(block["type"] == "TextBlock" and block["wrap"] for block in content["body"])
    assert (
        "\\[x\\]\\(http://evil\\.example\\)"
        in render_teams(alert())["attachments"][0]["content"]["body"][1]["text"]
    )


def test_mattermost_and_google_chat_text_limits_and_neutralised_markup() -> None:
    assert len(render_mattermost(HUGE)["text"]) <= 16383
    assert len(render_google_chat(HUGE)["text"]) <= 4096
    mm = render_mattermost(alert())["text"]
    assert "@here" not in mm and "@channel" not in mm and "\\<script\\>" in mm
    gc = render_google_chat(alert())["text"]
    assert "<users/all>" not in gc and "<script>" not in gc


def test_matrix_event_within_65536_bytes_html_escaped_and_txn_id_in_the_path() -> None:
    for a in (alert(), HUGE):
        content = render_matrix(a)
        assert len(json.dumps(content).encode()) <= 65536 - 2048
        assert content["msgtype"] == "m.notice" and content["format"] == "org.matrix.custom.html"
    html = render_matrix(alert())["formatted_body"]
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert matrix_path("!room:council.example", "a/b") == (
        "/_matrix/client/v3/rooms/%21room%3Acouncil.example/send/m.room.message/a%2Fb"
    )


def test_email_is_multipart_with_a_stable_message_id_and_escaped_html() -> None:
    message = render_email(alert(), "alert-1", sender="herald@council.example", to=["forum@council.example"])
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Message-ID"] == "<alert-1@herald.notifier>"
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert HOSTILE in parsed.get_body(("plain",)).get_content()
    assert parsed["Subject"] == f"Posted to X (corporate): {HOSTILE}"  # headlines are one line
    old = Alert.from_json({"headline": "x\nBcc: a@b.example", "text": "", "event_type": "t", "event_id": "e"})
    assert "Bcc" not in render_email(old, "a", sender="h@x.example", to=["f@x.example"])


def test_webhook_body_has_no_event_data_and_a_verifiable_signature() -> None:
    body = render_webhook(alert(), "alert-1")
    assert set(json.loads(body)) == {
        "alert_id",
        "event_id",
        "event_type",
        "severity",
        "headline",
        "text",
        "occurred_at",
    }
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", "1700000000", body) == f"sha256={expected}"
