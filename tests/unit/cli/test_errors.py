"""The one formatter every CLI error goes through (`herald.errors`): which exceptions are a user's
to act on, and the single line each becomes. The console script itself, through pipes, is
tests/integration/test_console_script.py."""

from __future__ import annotations

import io

import pytest
import typer
from aiokafka.errors import KafkaConnectionError

from herald import context
from herald.broker import BrokerError
from herald.cli import app
from herald.errors import UserError, describe, one_line, report
from shared.kafka_admin import TopicSetupError
from shared.producer import ProducerError


def usage_error(*args: str) -> typer.TyperException:
    with pytest.raises(typer.TyperException) as raised:
        app(args=list(args), prog_name="herald", standalone_mode=False)
    return raised.value


def test_one_line_joins_lines_and_runs_of_space() -> None:
    assert one_line("cannot reach\nKafka   at\t127.0.0.1:1 \n") == "cannot reach Kafka at 127.0.0.1:1"


def test_report_is_one_line_with_the_prefix() -> None:
    stream = io.StringIO()
    report("Kafka broker exited during startup;\n  last log lines: a\n  b", stream)
    assert stream.getvalue() == "herald: error: Kafka broker exited during startup; last log lines: a b\n"


def test_a_bad_option_value_names_the_option_and_the_help() -> None:
    message, code = describe(usage_error("feeds", "add", "https://example.org/f", "--interval", "abc"))
    assert code == 2
    assert message.startswith("Invalid value for '--interval': ")
    assert message.endswith("(see `herald feeds add --help`)")


def test_an_unknown_command_is_a_usage_error() -> None:
    assert describe(usage_error("feeds", "nope")) == (
        "No such command 'nope'. (see `herald feeds --help`)",
        2,
    )


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (UserError("nothing to update"), "nothing to update"),
        (
            BrokerError("Port 9092 on\n127.0.0.1 is already in use."),
            "Port 9092 on 127.0.0.1 is already in use.",
        ),
        (ProducerError("cannot reach Kafka at h:1: x"), "cannot reach Kafka at h:1: x"),
        (TopicSetupError("could not create topic t: Kafka error code 37"), "could not create topic t"),
        (
            KafkaConnectionError("Unable to bootstrap from h:1"),
            "Kafka: KafkaConnectionError: Unable to bootstrap",
        ),
        (PermissionError(13, "Permission denied", "/var/herald"), "Permission denied: '/var/herald'"),
    ],
)
def test_errors_a_user_can_cause_exit_1(error: Exception, message: str) -> None:
    described = describe(error)
    assert described is not None and described[1] == 1
    assert message in described[0]


def test_a_bug_is_not_disguised() -> None:
    assert describe(KeyError("feed_id")) is None


def test_an_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_DEFAULT_POLL_INTERVAL_SECONDS", "often")
    with pytest.raises(UserError) as raised:
        context.settings()
    assert str(raised.value).startswith(
        "invalid setting HERALD_DEFAULT_POLL_INTERVAL_SECONDS: Input should be a valid integer"
    )
