"""The installed `herald` console script, run the way a script, cron or CI runs it: through pipes,
no terminal. Every user error is exactly one line on stderr, whatever COLUMNS says, with nothing
on stdout, a non-zero exit and no stack trace."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.feed_server import FeedServer
from tests.support.ports import free_port

HERALD = Path(sys.executable).with_name("herald")  # the entry point pip installed beside python
ONE_OR_ALL = "name one feed (URL or feed id) or give --all"


def herald(
    *args: str, tmp: Path, env: dict[str, str] | None = None, columns: str | None = "20", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script with a clean HERALD_* environment (no shared broker leaks in)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("HERALD_")}
    environment.pop("COLUMNS", None)
    environment["HERALD_STATE_DIR"] = str(tmp / "state")
    if columns is not None:
        environment["COLUMNS"] = columns
    environment.update(env or {})
    return subprocess.run(
        [str(HERALD), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str, *, code: int = 1) -> None:
    assert result.returncode == code, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("herald: error: "), result.stderr
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound once to pick it, then released)."""
    return free_port()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.mark.parametrize("columns", ["20", "80", "300", None])
def test_bad_option_value_is_one_line_at_any_width(tmp_path: Path, columns: str | None) -> None:
    result = herald("feeds", "add", "not-a-url", "--interval", "abc", tmp=tmp_path, columns=columns)
    assert_one_line_error(result, "Invalid value for '--interval'", code=2)
    assert "`herald feeds add --help`" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("feeds", "add", "https://example.org/feed", "--interval", "1"),
            "Invalid value for '--interval': Input should be greater than or equal to 5",
        ),
        (("feeds", "add"), "Missing argument 'url'"),
        (("feeds", "nope"), "No such command 'nope'"),
        (("run", "mailer"), "'mailer' is not one of"),
        (("staff", "list", "--colour"), "No such option: --colour"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert_one_line_error(herald(*args, tmp=tmp_path), message, code=2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("feeds", "add", "ftp://example.org/feed"), "not an http(s) feed URL: 'ftp://example.org/feed'"),
        (("feeds", "add", "not a url"), "not an http(s) feed URL: 'not a url'"),
        (("feeds", "add", "http://example.org:99999/feed"), "invalid port number"),
        (("feeds", "remove", "http://[::1/feed"), "invalid IPv6 address"),
        (("feeds", "check", "http://exa mple.org/feed"), "invalid international domain name"),
        (("feeds", "list"), "the local Kafka broker is not running"),
        (("staff", "update", "sue-tylcoat"), "nothing to update"),
        (("staff", "leave", ""), "staff id: String should have at least 1 character"),
        (("staff", "erase", "staff-1"), "erasing staff-1 cannot be undone: add --yes"),
        (
            ("staff", "add", "--name", "A", "--handle", "a", "--platform", "myspace"),
            "unknown platform 'myspace'",
        ),
        (("staff", "import", "no-such-staff.yaml"), "cannot read no-such-staff.yaml"),
        (("events", "schema", "--type", "herald.nope.v1"), "unknown event type"),
        # Refused before any broker is looked for: neither a feed nor --all, or both.
        (("feeds", "poll"), ONE_OR_ALL),
        (("feeds", "poll", "--all", "https://example.org/feed"), ONE_OR_ALL),
        (("feeds", "poll", "feed-0123456789abcdef", "--all"), ONE_OR_ALL),
        (("feeds", "poll", "--all"), "the local Kafka broker is not running"),  # --all alone is fine
    ],
)
def test_herald_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    assert_one_line_error(herald(*args, tmp=tmp_path), message)


def test_no_subcommand_shows_the_help_not_an_error(tmp_path: Path) -> None:
    result = herald("feeds", tmp=tmp_path, columns="300")
    assert result.returncode == 2 and result.stderr == ""
    assert "Usage: herald feeds" in result.stdout


def test_unreachable_feed_url_is_one_line(tmp_path: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/feed"
    result = herald("feeds", "check", url, env={"HERALD_ALLOW_PRIVATE_NETWORKS": "1"}, tmp=tmp_path)
    assert_one_line_error(result, f"{url}: unreachable:")


def test_private_network_refusal_is_one_line(tmp_path: Path, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/feed"
    result = herald("feeds", "check", url, tmp=tmp_path)
    assert_one_line_error(result, "is a loopback address (set HERALD_ALLOW_PRIVATE_NETWORKS=1 to allow it)")


@pytest.mark.parametrize("columns", ["20", "300"])
def test_malformed_feed_is_one_line(tmp_path: Path, feed_server: FeedServer, columns: str) -> None:
    feed_server.set_feed(
        "/feed.xml", b"<<<not a feed>>> \x00\x01 {garbage", content_type="application/rss+xml"
    )
    url = feed_server.url("/feed.xml")
    result = herald(
        "feeds", "check", url, env={"HERALD_ALLOW_PRIVATE_NETWORKS": "1"}, tmp=tmp_path, columns=columns
    )
    assert_one_line_error(result, f"{url}: malformed: not a readable RSS/Atom feed")


@pytest.mark.parametrize(
    "args",
    [
        ("feeds", "add", "https://example.org/feed"),
        ("feeds", "list"),
        ("staff", "list"),
        ("staff", "leave", "staff-1"),
        ("posts", "approve", "item-0123"),
        ("ops", "tail", "--seconds", "1"),
        ("preview", "item-0123"),
    ],
)
def test_missing_broker_is_one_line_and_quick(
    tmp_path: Path, closed_port: int, args: tuple[str, ...]
) -> None:
    bootstrap = f"127.0.0.1:{closed_port}"
    # The deadline bounds the wait: a missing broker must not be retried for minutes.
    result = herald(*args, env={"HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap}, tmp=tmp_path, timeout=30)
    assert_one_line_error(result, f"cannot reach Kafka at {bootstrap}")
