"""The example configuration shipped in deploy/ is valid: routes, policy, flow and accounts."""

from __future__ import annotations

from pathlib import Path

from services.publisher.accounts import load_accounts
from services.publisher.config import load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "publisher.example.yaml"


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert [route.name for route in config.routes][0] == "travel and flooding"
    assert config.routes[0].urgent and config.routes[0].corrections
    assert "strike" in config.policy.blocked_keywords
    assert config.policy.cost.caps["x:corporate"].daily == 5.0


def test_example_accounts_load_without_reading_secrets() -> None:
    accounts = load_accounts(EXAMPLE)
    assert accounts is not None
    names = {f"{account.kind}:{account.name}" for account in accounts.accounts}
    assert names == {"x:corporate", "x:libraries", "mastodon:council", "facebook:libraries"}
