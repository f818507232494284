"""The publisher's YAML config: routes, policy and flow sections."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.publisher.config import ConfigError, load_config
from shared.settings import load_settings

CONFIG = """
accounts:
  - {name: corporate, kind: x}
routes:
  - feeds: ["https://www.example.gov.uk/travel/*"]
    to: [x:corporate]
    urgent: true
policy:
  quiet_hours: {x: {start: "22:00", end: "07:00"}}
  blocked_keywords: [strike]
  cost: {per_post: 0.01, per_post_with_link: 0.2, caps: {"x:corporate": {daily: 5}}}
flow:
  spacing_seconds: 2
  spacing: {"x:corporate": 10}
"""


def test_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "publisher.yaml"
    path.write_text(CONFIG)
    monkeypatch.setenv("HERALD_PUBLISHER_CONFIG", str(path))
    config = load_config(load_settings().publisher.publisher_config)
    assert config.routes[0].urgent and config.routes[0].to == ["x:corporate"]
    assert config.policy.blocked_keywords == ["strike"]
    assert config.policy.cost.caps["x:corporate"].daily == 5
    assert config.flow.spacing_for("x:corporate") == 10 and config.flow.spacing_for("x:other") == 2


def test_no_file_means_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_PUBLISHER_CONFIG", raising=False)
    config = load_config(load_settings().publisher.publisher_config)
    assert config.routes == [] and config.policy.quiet_hours == {}


def test_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("routes:\n  - to: [x]\n")
    with pytest.raises(ConfigError, match=r"routes\.0\.to"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")
    path.write_text("policy: {timezone: Mars/Olympus}")
    with pytest.raises(ConfigError):
        load_config(path)
