"""What a delivery failure says goes to logs and to the public herald.ops.errors topic: no e-mail
address a server quotes back, no credentials from a webhook URL; a bad default target set is one
line naming the settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.notifier.adapters import DeliveryError
from services.notifier.adapters.http import host_label
from services.notifier.config import NotifierConfigError
from services.notifier.targets import configured_targets
from shared.settings import load_settings


def test_a_refused_recipient_s_address_is_withheld() -> None:
    error = DeliveryError(
        "smtp mail.example:25 refused: "
        "[SMTPRecipientRefused(550, 'no such user', 'alice.smith@council.example')]",
        "permanent",
    )
    assert "alice.smith" not in error.reason and "[address withheld]" in error.reason
    assert str(error) == error.reason


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://user:t0ken@hooks.example/services/T0/B0/secret", "hooks.example"),
        ("http://127.0.0.1:8065/hooks/abc", "127.0.0.1:8065"),
        ("https://discord.example/api/webhooks/1/tok?wait=true", "discord.example"),
    ],
)
def test_a_target_is_named_by_host_and_port_only(url: str, label: str) -> None:
    assert host_label(url) == label


def test_a_bad_default_target_set_is_one_line(tmp_path: Path) -> None:
    settings = load_settings(
        state_dir=tmp_path,
        smtp_host="mail.example",
        forum_email_to="forum@council.example",
        forum_email_from="",
    )
    with pytest.raises(NotifierConfigError, match="HERALD_SMTP_") as refused:
        configured_targets(settings, environ={})
    assert "\n" not in str(refused.value) and "forum@council.example" not in str(refused.value)
