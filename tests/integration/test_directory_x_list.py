"""The X List kept in step with the directory's public active X accounts, against the loopback X
server (TLS, OAuth 1.0a checked, real tweepy) implementing the list-member endpoints, with a 429
in the middle of the changes: as the real worker on the real broker, and the sync on its own with
a change budget small enough to make it queue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.directory.checks.x_list import ChangeBudget, XListSync
from shared.events import StaffMember
from shared.events.directory import AccountSpec
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.integration.test_directory import cmd, members, outcomes, send, worker_env
from tests.integration.test_directory_checks import x_env
from tests.support.kafka import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

LIST_ID = "1700000000000000001"
PUBLIC_ACTIVE = {"pub_one", "pub_two", "pub_three", "pub_four", "pub_five"}


def seed(fake: FakeXApi) -> None:
    """X users for every directory account, and a List that is out of step: a private account,
    a former member of staff and one of the wanted accounts already on it."""
    for name in [*PUBLIC_ACTIVE, "secret_one", "newbie", "leaver", "former"]:
        fake.directory.add_user(name)
    fake.directory.lists[LIST_ID] = [
        fake.directory.users[name].id for name in ("secret_one", "former", "pub_one")
    ]


def directory_commands() -> list:  # type: ignore[type-arg]
    def x(handle: str, **more: object) -> AccountSpec:
        return AccountSpec(platform="x", handle=handle, **({"status": "active"} | more))  # type: ignore[arg-type]

    return [
        cmd("put_staff", "s-1", name="One", accounts=(x("pub_one"), x("secret_one", visibility="private"))),
        cmd("put_staff", "s-2", name="Two", accounts=(x("pub_two"), x("pub_three"), x("ghost_x"))),
        cmd("put_staff", "s-3", name="Three", accounts=(x("pub_four"), x("newbie", status="under_review"))),
        cmd("put_staff", "s-4", name="Four", accounts=(x("pub_five"),)),
        cmd("put_staff", "s-5", name="Five", accounts=(x("leaver"),)),
    ]


async def test_the_worker_keeps_the_list_in_step_through_a_429(
    tmp_path: Path, kafka_bootstrap: str, herald_topics: str, state_dir: Path
) -> None:
    ns, port = herald_topics, free_port()
    with FakeXApi(tmp_path) as fake:
        seed(fake)
        fake.directory.reset_in = 2
        fake.directory.limit_changes_after(3)  # the 4th of 6 changes is refused with a 429
        env = {
            **worker_env(kafka_bootstrap, ns, state_dir, port),
            **x_env(fake),
            "HERALD_DIRECTORY_X_LIST_ID": LIST_ID,
            "HERALD_DIRECTORY_X_LIST_SYNC_INTERVAL_SECONDS": "1",
        }
        people = directory_commands()
        leave = cmd("leave", "s-5")
        # The directory first, then a worker that syncs: its first round sees everyone.
        plain = ServiceProcess("directory", worker_env(kafka_bootstrap, ns, state_dir, port), port, tmp_path)
        plain.start()
        try:
            await send(kafka_bootstrap, ns, *people, leave)
            await outcomes(kafka_bootstrap, ns, *people, leave)
        finally:
            plain.stop()
        worker = ServiceProcess("directory", env, port, tmp_path).start()
        try:
            await wait_until(lambda: fake.directory.member_names(LIST_ID) == PUBLIC_ACTIVE, timeout=60)
            assert fake.directory.change_429s == 1  # waited for the reset instead of asking again
            removed = {
                fake.directory.by_id(i).username for kind, i in fake.directory.changes if kind == "remove"
            }  # type: ignore[union-attr]
            assert removed == {"secret_one", "former"}

            # A change in the directory reaches the List on a later round.
            pub_three = next(
                a.account_id
                for m in await members(kafka_bootstrap, ns)
                for a in m.accounts
                if a.handle == "pub_three"
            )
            hide = cmd("set_visibility", "s-2", account_id=pub_three, visibility="private")
            await send(kafka_bootstrap, ns, hide)
            await outcomes(kafka_bootstrap, ns, hide)
            await wait_until(
                lambda: fake.directory.member_names(LIST_ID) == PUBLIC_ACTIVE - {"pub_three"}, timeout=30
            )
        finally:
            worker.stop()
        assert "secret_one" not in fake.directory.member_names(LIST_ID)


async def test_changes_over_the_budget_are_queued_not_failed(tmp_path: Path) -> None:
    waits: list[float] = []
    clock = [1_000.0]

    async def sleep(seconds: float) -> None:  # the budget's waits, on a clock the test moves
        waits.append(seconds)
        clock[0] += seconds

    with FakeXApi(tmp_path) as fake:
        seed(fake)
        credentials = tuple(
            SecretStr(CREDENTIALS[f"HERALD_X_{n}"])
            for n in ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET")
        )
        sync = XListSync(
            LIST_ID,
            credentials,  # type: ignore[arg-type]
            base_url=fake.base_url,
            ca_bundle=fake.ca_path,
            budget=ChangeBudget(limit=2, window=900),
            clock=lambda: clock[0],
            sleep=sleep,
        )
        people = [
            StaffMember(
                staff_id=c.staff_id,
                version=1,
                name=c.name or "",
                accounts=tuple(
                    {
                        "account_id": f"a-{s.handle}",
                        "platform": "x",
                        "handle": s.handle,
                        "url": f"https://x.com/{s.handle}",
                        "visibility": s.visibility,
                        "status": s.status,
                        "added_at": "2026-01-01T00:00:00Z",
                        "changed_at": "2026-01-01T00:00:00Z",
                    }
                    for s in c.accounts or ()
                ),
            )
            for c in directory_commands()
        ]
        try:
            report = await sync.sync(people)
        finally:
            await sync.close()
    assert report is not None
    # 2 removals + 5 additions wanted (leaver is active here, ghost_x is not on X): 7 changes,
    # 2 per window → three waits of a whole window, and nothing refused.
    assert sorted(report.removed) == ["former", "secret_one"]
    assert sorted(report.added) == sorted(PUBLIC_ACTIVE - {"pub_one"} | {"leaver"})
    assert report.not_found == ["ghost_x"] and report.refused == []
    assert waits == [900.0, 900.0, 900.0]
    assert fake.directory.member_names(LIST_ID) == PUBLIC_ACTIVE | {"leaver"}


def rounds(log: Path) -> list[tuple[datetime, datetime]]:
    """(start, end) of every X List round a worker's log shows."""
    found: list[tuple[datetime, datetime]] = []
    start: datetime | None = None
    for line in log.read_text(errors="replace").splitlines():
        if "X List" not in line or not line.startswith("["):
            continue
        at = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")
        if "round starts" in line:
            start = at
        elif ("round ends" in line or "round stops" in line) and start is not None:
            found.append((start, at))
            start = None
    if start is not None:
        found.append((start, datetime.max))
    return found


async def test_two_workers_never_sync_at_the_same_time(
    tmp_path: Path, kafka_bootstrap: str, herald_topics: str, state_dir: Path
) -> None:
    ns, ports = herald_topics, [free_port(), free_port()]
    with FakeXApi(tmp_path) as fake:
        seed(fake)
        people = directory_commands()
        workers = [
            ServiceProcess(
                "directory",
                {
                    **worker_env(kafka_bootstrap, ns, state_dir / str(i), port),
                    **x_env(fake),
                    "HERALD_DIRECTORY_X_LIST_ID": LIST_ID,
                    "HERALD_DIRECTORY_X_LIST_SYNC_INTERVAL_SECONDS": "0.5",
                },
                port,
                tmp_path,
            )
            for i, port in enumerate(ports)
        ]
        for worker in workers:
            worker.start()
        try:
            await send(kafka_bootstrap, ns, *people)
            await outcomes(kafka_bootstrap, ns, *people)
            wanted = PUBLIC_ACTIVE | {"leaver"}
            await wait_until(lambda: fake.directory.member_names(LIST_ID) == wanted, timeout=60)
            # Rounds go on after the List is right; give both workers time to have run some.
            await wait_until(lambda: sum(len(rounds(w.log_path)) for w in workers) >= 10, timeout=30)
        finally:
            for worker in workers:
                worker.stop()
    first, second = (rounds(w.log_path) for w in workers)
    assert first or second
    for a_start, a_end in first:
        for b_start, b_end in second:
            assert a_end < b_start or b_end < a_start, "two workers synced the List at once"
    assert fake.directory.member_names(LIST_ID) == wanted
