"""Settings come from HERALD_* variables and keep secrets out of sight; ids are stable."""

from __future__ import annotations

import pytest

from shared.ids import feed_id_for, normalise_url, staff_id_for
from shared.settings import load_settings


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_X_API_SECRET", "s3cr3t-value")
    monkeypatch.setenv("HERALD_ADMIN_TOKEN", "admin-t0ken")
    settings = load_settings()
    assert "s3cr3t-value" not in repr(settings) and "admin-t0ken" not in repr(settings)
    assert settings.x_api_secret.get_secret_value() == "s3cr3t-value"


def test_dry_run_until_all_four_x_credentials_are_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEY", "API_SECRET", "ACCESS_TOKEN"):
        monkeypatch.setenv(f"HERALD_X_{name}", "v")
    assert not load_settings().x_credentials_set
    monkeypatch.setenv("HERALD_X_ACCESS_TOKEN_SECRET", "v")
    assert load_settings().x_credentials_set


def test_forum_addresses_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_FORUM_EMAIL_TO", "forum@council.example, comms@council.example")
    assert load_settings().forum_email_to == ["forum@council.example", "comms@council.example"]


def test_feed_id_is_the_same_for_equivalent_urls() -> None:
    assert feed_id_for("HTTPS://www.Devon.gov.uk:443/news/feed#top") == feed_id_for(
        "https://www.devon.gov.uk/news/feed"
    )
    assert feed_id_for("https://www.devon.gov.uk/news/feed") != feed_id_for(
        "https://www.devon.gov.uk/events/feed"
    )
    assert normalise_url("http://example.org") == "http://example.org/"


def test_staff_id_from_name() -> None:
    assert staff_id_for("Sue Tylcoat") == "sue-tylcoat"
    assert staff_id_for("  Zoë  O'Brien ") == "zoe-o-brien"
    with pytest.raises(ValueError):
        staff_id_for("!!!")


def test_empty_values_from_compose_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("X_API_KEY", "ADMIN_TOKEN", "SMTP_HOST", "KAFKA_BOOTSTRAP_SERVERS", "FORUM_EMAIL_TO"):
        monkeypatch.setenv(f"HERALD_{name}", "")
    settings = load_settings()
    assert settings.x_api_key is None and settings.admin_token is None and settings.smtp_host is None
    assert settings.kafka_bootstrap_servers is None and settings.forum_email_to == []


@pytest.mark.parametrize(
    "url",
    ["https://www.devon.gov.uk/a/../news feed", "https://bücher.example/feed", "HTTP://Example.org:80/x?a=1"],
)
def test_feed_id_agrees_with_the_url_as_the_event_carries_it(url: str) -> None:
    from datetime import UTC, datetime

    from shared.events import FeedSubscribed

    event = FeedSubscribed(feed_id="x", url=url, interval_seconds=60, subscribed_at=datetime.now(UTC))
    assert feed_id_for(url) == feed_id_for(str(event.url))
