"""Settings: one model with a section per service, from the environment or the file named by
`HERALD_CONFIG_FILE`, read when loaded (not at import); secrets kept out of sight."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import SECTIONS, HeraldSettings, SettingsError, flat_names, load_settings

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _no_stray_herald_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own HERALD_* variables must not decide these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("HERALD_"):
            monkeypatch.delenv(name)


def test_every_setting_has_one_flat_name() -> None:
    names = flat_names()
    assert len(names) == len(set(names)), "two sections share a setting name"
    assert not set(SECTIONS) & set(names)


def test_the_config_file_is_read_when_settings_are_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is named after import; it still counts, for top-level and section settings alike
    (feed_ingest's scheduling settings once ignored it)."""
    config = tmp_path / "herald.env"
    config.write_text(
        "HERALD_TOPIC_NAMESPACE=from-file.\nHERALD_FEED_POLL_CONCURRENCY=7\n"
        "HERALD_SMTP_PORT=2525\nHERALD_FORUM_EMAIL_TO=a@council.example, b@council.example\n"
    )
    monkeypatch.setenv("HERALD_CONFIG_FILE", str(config))
    settings = load_settings()
    assert settings.topic_namespace == "from-file."
    assert settings.feed_ingest.feed_poll_concurrency == 7
    assert settings.notifier.smtp_port == 2525
    assert settings.notifier.forum_email_to == ["a@council.example", "b@council.example"]


def test_the_environment_wins_over_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "herald.env"
    config.write_text("HERALD_FEED_POLL_CONCURRENCY=7\nHERALD_LOG_LEVEL=debug\n")
    monkeypatch.setenv("HERALD_CONFIG_FILE", str(config))
    monkeypatch.setenv("HERALD_FEED_POLL_CONCURRENCY", "9")
    monkeypatch.setenv("HERALD_LOG_LEVEL", "warn")
    settings = load_settings()
    assert settings.feed_ingest.feed_poll_concurrency == 9 and settings.log_level == "warn"


def test_keywords_use_the_flat_names_too(tmp_path: Path) -> None:
    settings = load_settings(state_dir=tmp_path, http_timeout_seconds=5, smtp_host="mail.example")
    assert settings.feed_ingest.http_timeout_seconds == 5 and settings.notifier.smtp_host == "mail.example"
    assert settings.state_dir == tmp_path


@pytest.mark.parametrize(
    ("contents", "expected"),
    [
        ("HERALD_FEED_POLL_CONCURENCY=3\n", "HERALD_FEED_POLL_CONCURENCY is not a Herald setting"),
        ("HERALD_FEED_POLL_JITTER=2\n", "HERALD_FEED_POLL_JITTER: Input should be less than or equal to 0.5"),
    ],
)
def test_a_bad_config_file_is_one_line_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contents: str, expected: str
) -> None:
    config = tmp_path / "herald.env"
    config.write_text(contents)
    monkeypatch.setenv("HERALD_CONFIG_FILE", str(config))
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert expected in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_config_file_is_an_error_not_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HERALD_CONFIG_FILE", str(tmp_path / "absent.env"))
    with pytest.raises(SettingsError, match="HERALD_CONFIG_FILE: no such file"):
        load_settings()


def test_a_bad_value_names_its_variable_and_never_echoes_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_SMTP_PORT", "lots")
    with pytest.raises(SettingsError, match=r"^HERALD_SMTP_PORT: .*'lots'"):
        load_settings()
    monkeypatch.delenv("HERALD_SMTP_PORT")
    with pytest.raises(SettingsError, match="HERALD_NO_SUCH_THING"):
        load_settings(no_such_thing=1)
    with pytest.raises(SettingsError, match="^HERALD_WEBSUB_SECRET: ") as raised:
        load_settings(websub_secret=["hunter2-secret"])
    assert "hunter2" not in str(raised.value)


def test_sections_are_typed_and_frozen(tmp_path: Path) -> None:
    settings = HeraldSettings(state_dir=tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        settings.feed_ingest.feed_poll_concurrency = 3  # type: ignore[misc]


def test_every_setting_says_what_it_is_for() -> None:
    from shared.settings import HeraldSettings as Model

    fields = {name: field for name, field in Model.model_fields.items() if name not in SECTIONS}
    for section in SECTIONS.values():
        fields.update(section.model_fields)
    assert [name for name, field in fields.items() if not field.description] == []


def test_the_configuration_reference_is_rendered_from_the_model() -> None:
    from shared.settings_docs import render

    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render(), "run `python -m shared.settings_docs > docs/configuration.md`"


#: Variables the docs may name that are no setting: the config file's own name, and test knobs.
NOT_SETTINGS = {
    "HERALD_CONFIG_FILE",
    "HERALD_KILL_SEED",
    "HERALD_TEST_KEEP_TOPICS",
    "HERALD_TEST_OUTAGE_SECONDS",
}


def test_every_variable_the_docs_name_is_a_setting() -> None:
    """No dead knobs: a documented HERALD_* name that nothing reads is an error (prefixes such as
    `HERALD_X_*` are left alone)."""
    import re

    known = {"HERALD_" + name.upper() for name in flat_names()} | NOT_SETTINGS
    documents = [
        REPO / "README.md",
        *sorted((REPO / "docs").rglob("*.md")),
        *sorted((REPO / "bench").glob("*.md")),
    ]
    dead = {
        f"{path.relative_to(REPO)}: {name}"
        for path in documents
        for name in re.findall(r"HERALD_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)", path.read_text(encoding="utf-8"))
        if name not in known and not name.endswith("_")
    }
    assert sorted(dead) == []
