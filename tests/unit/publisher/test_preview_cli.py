"""`herald preview --channel K --json TEXT` through the real CLI entry (no Kafka needed)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from herald.cli import app
from services.publisher.text import ELLIPSIS, weighted_length

runner = CliRunner()


def preview(*args: str) -> dict:
    result = runner.invoke(app, ["preview", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_short_text_fits_as_given() -> None:
    assert preview("--channel", "x", "--json", "Bins go out on Tuesday") == {
        "post": "Bins go out on Tuesday",
        "weighted_length": 22,
        "fits": True,
    }


def test_link_counts_23_on_x() -> None:
    out = preview("--channel", "x", "--json", "Read https://www.example.gov.uk/" + "p" * 200)
    assert out["weighted_length"] == 5 + 23 and out["fits"] is True


def test_too_long_text_is_measured_as_given_and_shortened_keeping_the_link() -> None:
    text = "Roadworks " * 40 + "https://www.example.gov.uk/roadworks"
    out = preview("--channel", "x", "--json", text)
    assert out["weighted_length"] == 400 + 23 and out["fits"] is False
    assert out["post"].endswith(ELLIPSIS + " https://www.example.gov.uk/roadworks")
    assert weighted_length(out["post"]) <= 280


def test_cjk_weighs_two_on_x_and_one_grapheme_on_bluesky() -> None:
    assert preview("--channel", "x", "--json", "中文")["weighted_length"] == 4
    assert preview("--channel", "bluesky", "--json", "中文")["weighted_length"] == 2


def test_mastodon_limit_is_500() -> None:
    out = preview("--channel", "mastodon", "--json", "a " * 260)
    assert out["fits"] is False and len(out["post"]) <= 500 and out["post"].endswith(ELLIPSIS)


def test_unknown_channel_is_one_line_error() -> None:
    result = runner.invoke(app, ["preview", "--channel", "myspace", "--json", "hi"])
    assert result.exit_code != 0
