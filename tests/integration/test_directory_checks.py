"""The directory's platform checks as a real worker against the real broker and loopback X (TLS,
tweepy), Mastodon and Bluesky/PLC servers: every outcome recorded on the account in the snapshot,
a rate limit in the middle waited out, and no handle on the year-long events topic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.events import StaffMember
from shared.events.directory import AccountSpec
from shared.topics import DIRECTORY_EVENTS
from tests.fakes.bluesky import FakeBluesky
from tests.fakes.mastodon import FakeMastodon
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.integration.test_console_script import herald
from tests.integration.test_directory import cmd, everything, members, outcomes, send, worker_env
from tests.support.kafka import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def x_env(fake: FakeXApi) -> dict[str, str]:
    """The directory's own X settings, with the fake's credentials."""
    return {
        "HERALD_DIRECTORY_X_API_BASE_URL": fake.base_url,
        "HERALD_DIRECTORY_X_CA_BUNDLE": str(fake.ca_path),
        **{name.replace("HERALD_X_", "HERALD_DIRECTORY_X_"): value for name, value in CREDENTIALS.items()},
    }


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[tuple[FakeXApi, FakeMastodon, FakeBluesky]]:
    with FakeXApi(tmp_path) as x, FakeMastodon() as mastodon, FakeBluesky() as bluesky:
        yield x, mastodon, bluesky


EXPECTED = {
    ("x", "activeone"): "exists",
    ("x", "quietone"): "inactive",
    ("x", "lockedone"): "protected",
    ("x", "nobodyhere"): "missing",
    ("mastodon", "@ann@social.example"): "exists",
    ("mastodon", "@gone@social.example"): "missing",
    ("bluesky", "ann.example.org"): "exists",
    ("bluesky", "claimed.example.org"): "mismatch",
}


async def test_every_outcome_is_recorded_on_its_account_and_a_rate_limit_is_waited_out(
    platforms: tuple[FakeXApi, FakeMastodon, FakeBluesky],
    kafka_bootstrap: str,
    herald_topics: str,
    state_dir: Path,
    tmp_path: Path,
) -> None:
    x, mastodon, bluesky = platforms
    x.directory.add_user("activeone", posts=[NOW - timedelta(days=2), NOW - timedelta(days=40)])
    x.directory.add_user("quietone", posts=[NOW - timedelta(days=400)])
    x.directory.add_user("lockedone", protected=True, posts=[NOW])
    x.directory.script("429")  # the first X lookup is rate limited: X waits for the reset
    mastodon.add_account("ann@social.example", last_status_at=(NOW - timedelta(days=3)).date().isoformat())
    bluesky.add_identity("ann.example.org")
    bluesky.add_identity("claimed.example.org", also_known_as="at://someone-else.example.org")

    ns, port = herald_topics, free_port()
    env = {
        **worker_env(kafka_bootstrap, ns, state_dir, port),
        **x_env(x),
        "HERALD_DIRECTORY_CHECKS": "x,mastodon,bluesky",
        "HERALD_DIRECTORY_CHECK_INTERVAL_SECONDS": "0.5",
        "HERALD_DIRECTORY_MASTODON_BASE_URL": mastodon.base_url,
        "HERALD_DIRECTORY_BLUESKY_BASE_URL": bluesky.base_url,
        "HERALD_DIRECTORY_PLC_URL": bluesky.base_url,
    }
    people = [
        cmd(
            "put_staff",
            "s-ann",
            name="Ann Example",
            accounts=(
                AccountSpec(platform="x", handle="activeone", status="active"),
                AccountSpec(platform="mastodon", handle="@ann@social.example", status="active"),
                AccountSpec(platform="bluesky", handle="ann.example.org", status="active"),
            ),
        ),
        cmd(
            "put_staff",
            "s-bob",
            name="Bob Example",
            accounts=(
                AccountSpec(platform="x", handle="quietone", status="active"),
                AccountSpec(platform="x", handle="lockedone", visibility="private", status="active"),
                AccountSpec(platform="mastodon", handle="@gone@social.example"),
                AccountSpec(platform="bluesky", handle="claimed.example.org"),
            ),
        ),
        cmd(
            "put_staff",
            "s-cy",
            name="Cy Example",
            accounts=(
                AccountSpec(platform="x", handle="nobodyhere"),
                AccountSpec(platform="facebook", handle="https://www.facebook.com/cy.example"),  # not checked
            ),
        ),
    ]
    worker = ServiceProcess("directory", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, ns, *people)
        await outcomes(kafka_bootstrap, ns, *people)

        async def all_checked() -> list[StaffMember] | None:
            found = await members(kafka_bootstrap, ns)
            accounts = [a for m in found for a in m.accounts if a.platform != "facebook"]
            return (
                found if len(accounts) == len(EXPECTED) and all(a.check_outcome for a in accounts) else None
            )

        checked = await wait_until(all_checked, timeout=60, interval=0.5)
    finally:
        worker.stop()

    assert isinstance(checked, list)
    found = {(a.platform, a.handle): a for m in checked for a in m.accounts if a.platform != "facebook"}
    assert {key: a.check_outcome for key, a in found.items()} == EXPECTED
    quiet = found[("x", "quietone")]
    assert quiet.last_post_at is not None and (NOW - quiet.last_post_at).days >= 399
    assert all(a.last_checked_at is not None for a in found.values())
    # The rate limit was a pause, not a crash nor a hammering: one 429, then each X user answered once.
    assert [c.status for c in x.calls].count(429) == 1
    assert sorted(x.directory.lookups) == sorted(h for p, h in EXPECTED if p == "x")
    # The year-long events topic says a check was recorded and what it found, never whose handle.
    events = b"\n".join(
        r.value or b""
        for r in await everything(kafka_bootstrap, ns + DIRECTORY_EVENTS.name, DIRECTORY_EVENTS.partitions)
    )
    assert b'"record_check"' in events and b'"protected"' in events
    for _, handle in EXPECTED:
        assert handle.encode() not in events

    # The admin's review report: what the checks found wrong, and the account no check reaches.
    env = {"HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "HERALD_TOPIC_NAMESPACE": ns}
    report = herald("staff", "review", "--json", env=env, tmp=tmp_path)
    assert report.returncode == 0, report.stderr
    rows = [json.loads(line) for line in report.stdout.splitlines()]
    assert [(r["reason"], r["handle"]) for r in rows] == [
        ("missing", "@gone@social.example"),
        ("missing", "nobodyhere"),
        ("mismatch", "claimed.example.org"),
        ("inactive", "quietone"),
        ("unchecked", "https://www.facebook.com/cy.example"),
        ("protected", "lockedone"),
    ]
    table = herald("staff", "review", env=env, tmp=tmp_path, columns="200")
    assert table.returncode == 0 and "6 account(s) to review" in table.stdout, table.stderr
    assert "lockedone (private)" in table.stdout
