"""Account configuration: several accounts per channel, secrets only by reference (never echoed),
one clear line naming the bad field, and the skeleton's behaviour without a config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.publisher.accounts import (
    AccountsConfigError,
    build_channels,
    load_accounts,
    parse_accounts,
)
from services.publisher.channels import (
    BlueskyChannel,
    FacebookPageChannel,
    MastodonChannel,
    OutboxChannel,
    WebhookChannel,
    XChannel,
)
from shared.settings import HeraldSettings, load_settings

X_CREDS = {
    "api_key": {"env": "X_CORP_KEY"},
    "api_secret": {"env": "X_CORP_SECRET"},
    "access_token": {"env": "X_CORP_TOKEN"},
    "access_token_secret": {"env": "X_CORP_TOKEN_SECRET"},
}
ENV = {
    "X_CORP_KEY": "k",
    "X_CORP_SECRET": "s",
    "X_CORP_TOKEN": "t",
    "X_CORP_TOKEN_SECRET": "ts",
    "MASTO": "m",
}


def settings(tmp_path: Path, **extra: object) -> HeraldSettings:
    return HeraldSettings(state_dir=tmp_path, **{"x_api_key": None, "x_api_secret": None, **extra})  # type: ignore[arg-type]


def test_several_accounts_per_channel(tmp_path: Path) -> None:
    secret_file = tmp_path / "fb-token"
    secret_file.write_text("EAAsecret\n")
    config = parse_accounts(
        {
            "routes": [{"ignored": "here"}],
            "accounts": [
                {"name": "corporate", "kind": "x", "credentials": X_CREDS},
                {"name": "libraries", "kind": "x", "credentials": X_CREDS},
                {
                    "name": "council",
                    "kind": "mastodon",
                    "base_url": "https://social.example",
                    "credentials": {"access_token": {"env": "MASTO"}},
                },
                {
                    "name": "libraries",
                    "kind": "bluesky",
                    "handle": "lib.example",
                    "credentials": {"app_password": {"env": "MASTO"}},
                },
                {
                    "name": "libraries",
                    "kind": "facebook",
                    "page_id": "123",
                    "credentials": {"page_access_token": {"file": str(secret_file)}},
                },
                {"name": "intranet", "kind": "webhook", "base_url": "https://intranet.example/hook"},
                {"name": "preview", "kind": "outbox", "stands_in_for": "mastodon"},
                {"name": "trial", "kind": "mastodon", "dry_run": True},
            ],
        }
    )
    channels = build_channels(config, settings(tmp_path), environ=ENV)
    assert list(channels) == [
        "x:corporate",
        "x:libraries",
        "mastodon:council",
        "bluesky:libraries",
        "facebook:libraries",
        "webhook:intranet",
        "mastodon:preview",
        "mastodon:trial",
    ]
    assert isinstance(channels["x:libraries"], XChannel) and channels["x:libraries"].account == "libraries"
    assert isinstance(channels["mastodon:council"], MastodonChannel)
    assert isinstance(channels["bluesky:libraries"], BlueskyChannel)
    facebook = channels["facebook:libraries"]
    assert isinstance(facebook, FacebookPageChannel)
    assert facebook._token.get_secret_value() == "EAAsecret" and "EAAsecret" not in repr(facebook._token)
    assert isinstance(channels["webhook:intranet"], WebhookChannel)
    trial = channels["mastodon:trial"]
    assert isinstance(trial, OutboxChannel) and trial.path == tmp_path / "outbox" / "mastodon-trial.jsonl"
    assert trial.limits.max_length == 500


@pytest.mark.parametrize(
    ("account", "message"),
    [
        (
            {"name": "c", "kind": "x", "credentials": {**X_CREDS, "api_key": "sk-live-SECRET"}},
            "accounts[0].credentials.api_key: must be {env: VARIABLE_NAME} or {file: /path}, "
            "not an inline value",
        ),
        (
            {"name": "c", "kind": "x", "credentials": {"api_key": {"env": "A"}}},
            "accounts[0]: credentials.api_secret is required for a x account",
        ),
        ({"name": "c", "kind": "myspace"}, "accounts[0].kind: Input should be"),
        (
            {"name": "c", "kind": "bluesky", "credentials": {"app_password": {"env": "A"}}},
            "accounts[0]: handle is required for a bluesky account",
        ),
        (
            {
                "name": "c",
                "kind": "mastodon",
                "base_url": "https://m",
                "credentials": {"access_token": {"env": "A"}, "password": {"env": "B"}},
            },
            "accounts[0]: credentials.password is not a mastodon credential (allowed: access_token)",
        ),
        ({"name": "Bad Name", "kind": "outbox"}, "accounts[0].name: String should match pattern"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(account: dict, message: str) -> None:
    with pytest.raises(AccountsConfigError) as caught:
        parse_accounts({"accounts": [account]}, source="publisher.yaml")
    text = str(caught.value)
    assert text.startswith(f"publisher.yaml: {message}") and "\n" not in text
    assert "SECRET" not in text


def test_missing_secret_names_the_variable_not_the_value(tmp_path: Path) -> None:
    config = parse_accounts({"accounts": [{"name": "corporate", "kind": "x", "credentials": X_CREDS}]})
    with pytest.raises(AccountsConfigError) as caught:
        build_channels(config, settings(tmp_path), environ={**ENV, "X_CORP_SECRET": ""})
    assert str(caught.value) == (
        "accounts[0] (x:corporate): credentials.api_secret: environment variable X_CORP_SECRET is not set"
    )


def test_duplicate_account_is_refused() -> None:
    with pytest.raises(AccountsConfigError, match="account outbox:a is defined twice"):
        parse_accounts({"accounts": [{"name": "a", "kind": "outbox"}, {"name": "a", "kind": "outbox"}]})


def test_without_a_config_the_skeleton_behaviour(tmp_path: Path) -> None:
    assert load_accounts(None) is None
    dry = build_channels(None, settings(tmp_path), environ={})
    assert list(dry) == ["x:corporate"]
    outbox = dry["x:corporate"]
    assert isinstance(outbox, OutboxChannel) and outbox.path == tmp_path / "outbox" / "x.jsonl"
    live = build_channels(
        None,
        settings(tmp_path, x_api_key="k", x_api_secret="s", x_access_token="t", x_access_token_secret="ts"),
        environ={},
    )
    assert isinstance(live["x:corporate"], XChannel)


def test_load_accounts_reports_yaml_errors_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "publisher.yaml"
    path.write_text("accounts:\n  - name: a\n    kind: [x\n")
    with pytest.raises(AccountsConfigError, match=r"publisher.yaml: line \d+ not valid YAML"):
        load_accounts(path)
    path.write_text("accounts:\n  - {name: a, kind: outbox}\n")
    config = load_accounts(load_settings(publisher_config=str(path)).publisher.publisher_config)
    assert config is not None and [a.key for a in config.accounts] == ["outbox:a"]
