"""The targets file: the shipped example loads, credentials resolve from env or file, a bad file is
one line naming HERALD_NOTIFIER_CONFIG, and without a file the flat settings give the default set."""

from pathlib import Path

import pytest

from services.notifier.adapters.chat import ChatAdapter
from services.notifier.adapters.email import EmailAdapter
from services.notifier.adapters.matrix import MatrixAdapter
from services.notifier.adapters.webhook import WebhookAdapter
from services.notifier.config import NotifierConfigError, TargetKind, load_config
from services.notifier.targets import build_targets, configured_targets
from shared.settings import HeraldSettings
from tests.support.processes import run_service

EXAMPLE = Path(__file__).resolve().parents[3] / "deploy" / "notifier.example.yaml"


def test_the_example_loads_and_builds_every_kind(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    assert {t.kind for t in config.targets} == set(TargetKind)
    assert [t.name for t in config.targets if t.internal] == [
        "forum-mail",
        "forum-digest",
        "digital-teams",
        "ops-mattermost",
        "ops-matrix",
    ]
    teams_url = tmp_path / "teams-url"
    teams_url.write_text("https://teams.example/workflow\n")
    config = config.model_copy(
        update={
            "targets": [
                t.model_copy(update={"url": t.url.model_copy(update={"file": teams_url})})
                if t.name == "digital-teams"
                else t
                for t in config.targets
            ]
        }
    )
    environ = {
        name: f"value-of-{name}"
        for name in (
            "HERALD_SMTP_PASSWORD",
            "SLACK_WEBHOOK_URL",
            "FORUM_SLACK_WEBHOOK_URL",
            "DISCORD_WEBHOOK_URL",
            "MATTERMOST_WEBHOOK_URL",
            "MATRIX_ACCESS_TOKEN",
            "GOOGLE_CHAT_WEBHOOK_URL",
            "BOTS_WEBHOOK_URL",
            "BOTS_WEBHOOK_TOKEN",
            "BOTS_WEBHOOK_SECRET",
        )
    }
    targets = {t.name: t.adapter for t in build_targets(config, environ)}
    assert isinstance(targets["forum-mail"], EmailAdapter) and targets["forum-mail"].port == 587
    assert isinstance(targets["comms-slack"], ChatAdapter) and not targets["comms-slack"].idempotent
    assert isinstance(targets["ops-matrix"], MatrixAdapter) and targets["ops-matrix"].idempotent
    assert isinstance(targets["bots"], WebhookAdapter)
    assert config.retry.give_up_after == 86400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("targets: [{name: a, kind: slack}]", "targets.0: slack target needs url"),
        (
            "targets: [{name: a, kind: slack, url: https://hooks.example/T0/B0/secret}]",
            "targets.0.url: must be {env: VARIABLE_NAME}",
        ),
        ("targets: [{name: a, kind: pigeon, url: {env: U}}]", "targets.0.kind: Input should be"),
        (
            "targets: [{name: a, kind: email, host: h, from: f@x.example}]",
            "targets.0: email target needs host, from and to",
        ),
        (
            "targets: [{name: a, kind: slack, url: {env: U}}, {name: a, kind: slack, url: {env: U}}]",
            "target a is defined twice",
        ),
        ("targets: [{name: a, kind: slack, url: {env: U}, colour: red}]", "targets.0.colour: Extra inputs"),
        ("targets: [", "not valid YAML"),
        ("- just a list", "the top level must be a mapping"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_setting(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "notifier.yaml"
    path.write_text(text)
    with pytest.raises(NotifierConfigError) as caught:
        load_config(path)
    error = str(caught.value)
    assert error.startswith(f"HERALD_NOTIFIER_CONFIG={path}") and message in error and "\n" not in error
    assert "hooks.example" not in error  # an inline credential is never echoed


def test_a_missing_file_and_a_missing_credential_are_clear(tmp_path: Path) -> None:
    with pytest.raises(NotifierConfigError, match="HERALD_NOTIFIER_CONFIG=.*cannot read it"):
        load_config(tmp_path / "absent.yaml")
    path = tmp_path / "n.yaml"
    path.write_text("targets: [{name: chat, kind: slack, url: {env: NO_SUCH_URL}}]")
    settings = HeraldSettings(notifier_config=path)  # type: ignore[call-arg]
    with pytest.raises(
        NotifierConfigError, match="target chat: url: environment variable NO_SUCH_URL is not set"
    ):
        configured_targets(settings, environ={})


def test_without_a_file_the_flat_settings_are_the_default_set() -> None:
    settings = HeraldSettings(  # type: ignore[call-arg]
        smtp_host="127.0.0.1",
        smtp_port=2525,
        forum_email_to="forum@council.example",
        forum_webhook_url="http://127.0.0.1:9/hook",
        forum_webhook_token="t0k",
    )
    targets = {t.name: t for t in configured_targets(settings, environ={})}
    assert set(targets) == {"email", "webhook"}
    assert targets["email"].config.internal and not targets["webhook"].config.internal
    assert isinstance(targets["webhook"].adapter, WebhookAdapter)
    assert configured_targets(HeraldSettings(), environ={}) == []  # type: ignore[call-arg]


def test_the_service_refuses_to_start_on_a_bad_file_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yaml"
    path.write_text("targets: [{name: chat, kind: slack, url: https://hooks.example/secret-path}]")
    env = {
        "HERALD_NOTIFIER_CONFIG": str(path),
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "HERALD_STATE_DIR": str(tmp_path / "state"),
    }
    done = run_service("notifier", env)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1] == (
        f"herald notifier: HERALD_NOTIFIER_CONFIG={path}: targets.0.url: "
        "must be {env: VARIABLE_NAME} or {file: /path}, not an inline value"
    )
    assert "Traceback" not in done.stderr and "secret-path" not in done.stderr


def test_only_an_internal_email_target_may_write_to_the_forum_members(tmp_path: Path) -> None:
    path = tmp_path / "notifier.yaml"
    mail = "{name: forum, kind: email, host: h, from: herald@council.example, to: forum_members"
    path.write_text(f"targets: [{mail}}}]")
    with pytest.raises(NotifierConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"HERALD_NOTIFIER_CONFIG={path}: targets.0: to: forum_members sends to staff addresses: "
        "only an internal target may"
    )
    path.write_text(f"targets: [{mail}, internal: true}}]")
    [target] = build_targets(load_config(path), {}, forum_members=lambda: ["a@council.example"])
    assert isinstance(target.adapter, EmailAdapter) and target.adapter.to() == ["a@council.example"]


def test_one_target_takes_templates_forum_members_quiet_hours_and_a_digest(tmp_path: Path) -> None:
    """The fields of templates and forum-member e-mail and those of schedules, on one target."""
    (tmp_path / "words" / "headlines").mkdir(parents=True)
    (tmp_path / "words" / "headlines" / "digest.j2").write_text("Forum digest: {{ summary }}\n")
    path = tmp_path / "n.yaml"
    path.write_text(
        """
timezone: Europe/London
targets:
  - name: forum-mail
    kind: email
    internal: true
    host: 127.0.0.1
    from: herald@council.example
    to: forum_members
    templates: words
    quiet_hours: {start: "22:00", end: "07:00"}
    digest: {every: weekly, at: "08:30", weekday: monday}
    items: {feeds: [forum-events], remind_before: 2h}
"""
    )
    [target] = build_targets(load_config(path), {}, forum_members=lambda: ["a@council.example"])
    assert target.config.templates == tmp_path / "words" and target.config.to == "forum_members"
    assert target.config.digest is not None and target.config.quiet_hours is not None
    assert target.config.items is not None and str(target.zone) == "Europe/London"
    assert target.adapter.templates.headline("digest", {"summary": "2 posted"}) == "Forum digest: 2 posted"
