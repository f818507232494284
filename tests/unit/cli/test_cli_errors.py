"""Bad input at the command line is one clear line and a non-zero exit, never a stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ONE_OR_ALL = "name one feed (URL or feed id) or give --all"


def herald(*args: str, env: dict[str, str] | None = None, tmp: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HERALD_STATE_DIR": str(tmp / "state"), **(env or {})}
    environment.pop("HERALD_KAFKA_BOOTSTRAP_SERVERS", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "herald", *args], capture_output=True, text=True, env=environment, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "add", "ftp://example.org/feed"), "not an http(s) feed URL"),
        (("feeds", "add", "not a url"), "not an http(s) feed URL"),
        (("feeds", "list"), "the local Kafka broker is not running"),
        (("staff", "update", "sue-tylcoat"), "nothing to update"),
        (
            ("staff", "add", "--name", "A", "--handle", "a", "--platform", "myspace"),
            "unknown platform 'myspace'",
        ),
        (("events", "schema", "--type", "herald.nope.v1"), "unknown event type"),
        # Refused before any broker is looked for: neither a feed nor --all, or both.
        (("feeds", "poll"), ONE_OR_ALL),
        (("feeds", "poll", "--all", "https://example.org/feed"), ONE_OR_ALL),
        (("feeds", "poll", "feed-0123456789abcdef", "--all"), ONE_OR_ALL),
        (("feeds", "poll", "--all"), "the local Kafka broker is not running"),  # --all alone is fine
    ],
)
def test_user_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = herald(*args, tmp=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # rich may wrap one long line


def test_usage_errors_do_not_trace(tmp_path: Path) -> None:
    result = herald("feeds", "add", "https://example.org/feed", "--interval", "1", tmp=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--interval" in result.stderr


def test_unreachable_external_broker_is_one_line(tmp_path: Path) -> None:
    result = herald("staff", "list", env={"HERALD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}, tmp=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "cannot reach Kafka at 127.0.0.1:1" in result.stderr


def test_unknown_service_for_run(tmp_path: Path) -> None:
    result = herald("run", "mailer", tmp=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
