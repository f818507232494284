"""The directory service as a real subprocess against the real broker: commands in, events and
snapshot out, `GET /staff` with and without the admin token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path

import httpx
import pytest

from shared.envelope import CloudEvent
from shared.events import StaffAccountChangeRequested
from shared.producer import EventProducer
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS, DIRECTORY_SNAPSHOT
from tests.support.kafka import collect_events, raw_records, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "admin-token-for-tests"
ADDED = "herald.directory.account.added.v1"
UPDATED = "herald.directory.account.updated.v1"
REMOVED = "herald.directory.account.removed.v1"
REJECTED = "herald.directory.change.rejected.v1"


@pytest.fixture
def directory(kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A running directory worker; yields its base URL."""
    port = free_port()
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_TOPIC_NAMESPACE": herald_topics,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_DIRECTORY_PORT": str(port),
        "HERALD_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    process = ServiceProcess("directory", env, port, tmp_path).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def cmd(action: str, staff_id: str, **fields: object) -> StaffAccountChangeRequested:
    return StaffAccountChangeRequested(
        request_id=f"{action}-{staff_id}-{uuid.uuid4().hex[:6]}", action=action, staff_id=staff_id, **fields
    )


async def send(bootstrap: str, namespace: str, *commands: StaffAccountChangeRequested) -> None:
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        for command in commands:
            await producer.send(DIRECTORY_COMMANDS, command.staff_id, command)


async def outcome(bootstrap: str, namespace: str, command: StaffAccountChangeRequested) -> CloudEvent:
    [event] = await collect_events(
        bootstrap,
        DIRECTORY_EVENTS,
        namespace=namespace,
        where=lambda e: e.data.get("request_id") == command.request_id,
    )
    return event


async def _equal(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_directory_keeps_accounts_and_serves_them(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    ns = herald_topics
    sue = cmd("add", "sue-tylcoat", name="Sue Tylcoat", role="Solutions Development Manager", handle="@suety")
    pip = cmd("add", "pip-tucker", name="Pip Tucker", handle="piptucker", private=True)
    anna = cmd("add", "anna-matthews", name="Anna Matthews", handle="localgovgrad")
    await send(kafka_bootstrap, ns, sue, pip, anna)
    for command in (sue, pip, anna):
        assert (await outcome(kafka_bootstrap, ns, command)).type == ADDED

    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:

        async def staff_ids(**kwargs: object) -> list[str]:
            return [a["staff_id"] for a in (await http.get("/staff", **kwargs)).json()]

        # The event goes out just before the snapshot and the view: poll briefly.
        await wait_until(lambda: _equal(staff_ids(), ["anna-matthews", "sue-tylcoat"]), timeout=10)
        public = (await http.get("/staff")).json()  # sorted by name, no private account
        assert public[1] == {
            "staff_id": "sue-tylcoat",
            "name": "Sue Tylcoat",
            "role": "Solutions Development Manager",
            "platform": "twitter",
            "handle": "suety",
            "private": False,
        }
        everyone = (await http.get("/staff", headers=admin())).json()
        assert [a["staff_id"] for a in everyone] == ["anna-matthews", "pip-tucker", "sue-tylcoat"]

        wrong = await http.get("/staff", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and wrong.json() == {"error": "invalid admin token"}
        assert ADMIN_TOKEN not in wrong.text

        assert (await http.get("/staff/pip-tucker")).status_code == 404
        assert (await http.get("/staff/pip-tucker", headers=admin())).json()["handle"] == "piptucker"
        assert (await http.get("/staff/nobody", headers=admin())).status_code == 404

        # A handle change is an Updated event and shows in GET /staff.
        change = cmd("update", "sue-tylcoat", handle="sue_t")
        await send(kafka_bootstrap, ns, change)
        updated = await outcome(kafka_bootstrap, ns, change)
        assert updated.type == UPDATED
        assert updated.data["previous"]["handle"] == "suety" and updated.data["account"]["handle"] == "sue_t"
        assert updated.data["changed_fields"] == ["handle"]

        async def sue_handle() -> str:
            return (await http.get("/staff/sue-tylcoat")).json()["handle"]

        await wait_until(lambda: _equal(sue_handle(), "sue_t"), timeout=10)

        # Removal: event, tombstone on the snapshot, gone from GET /staff.
        leave = cmd("remove", "anna-matthews")
        await send(kafka_bootstrap, ns, leave)
        assert (await outcome(kafka_bootstrap, ns, leave)).type == REMOVED
        await wait_until(
            lambda: _equal(staff_ids(headers=admin()), ["pip-tucker", "sue-tylcoat"]), timeout=10
        )

    # add ×3, sue's update, anna's tombstone (compaction forgets removed people).
    snapshot = await raw_records(kafka_bootstrap, ns + DIRECTORY_SNAPSHOT.name, count=5)
    assert len(snapshot) == 5
    anna_records = [r for r in snapshot if r.key == b"anna-matthews"]
    assert [r.value is None for r in anna_records] == [False, True]


async def test_bad_commands_are_rejected_with_the_reason(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    ns = herald_topics
    sue = cmd("add", "sue-tylcoat", name="Sue Tylcoat", handle="suety")
    bad_handle = cmd("add", "bob", name="Bob", handle="@a b")
    unknown = cmd("update", "nobody", handle="ghost")
    taken = cmd("add", "impostor", name="Im Postor", handle="SUETY")
    exists = cmd("add", "sue-tylcoat", name="Sue Tylcoat", handle="other")
    await send(kafka_bootstrap, ns, sue, bad_handle, unknown, taken, exists)

    assert (await outcome(kafka_bootstrap, ns, sue)).type == ADDED
    reasons = {}
    for command in (bad_handle, unknown, taken, exists):
        event = await outcome(kafka_bootstrap, ns, command)
        assert event.type == REJECTED, event
        reasons[command.staff_id] = event.data["reason"]
    assert reasons["bob"].startswith("invalid X handle '@a b': ")
    assert reasons["nobody"].startswith("unknown staff id 'nobody'")
    assert reasons["impostor"] == "handle '@SUETY' on twitter is already held by staff id 'sue-tylcoat'"
    assert reasons["sue-tylcoat"] == "staff id 'sue-tylcoat' already exists; use update"

    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:
        staff = (await http.get("/staff", headers=admin())).json()
        assert [a["staff_id"] for a in staff] == ["sue-tylcoat"]
        assert staff[0]["handle"] == "suety"


async def test_importing_the_same_record_twice_adds_once(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    ns = herald_topics
    record = {"name": "Shaun Carter", "role": "Strategic Intelligence", "handle": "Shaun32"}
    first, second = cmd("upsert", "shaun-carter", **record), cmd("upsert", "shaun-carter", **record)
    # A later command on the same key (same partition, so processed after both upserts) marks the end.
    marker = cmd("update", "shaun-carter", role="Head of Strategic Intelligence")
    await send(kafka_bootstrap, ns, first, second, marker)
    await outcome(kafka_bootstrap, ns, marker)

    # Events of one staff id are ordered: a second Added or an Updated for the second upsert would
    # come before the marker's event.
    events = await collect_events(
        kafka_bootstrap, DIRECTORY_EVENTS, namespace=ns, count=2, where=lambda e: e.subject == "shaun-carter"
    )
    assert [(e.type, e.data["request_id"]) for e in events] == [
        (ADDED, first.request_id),
        (UPDATED, marker.request_id),
    ]

    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:

        async def shows_new_role() -> bool:
            staff = (await http.get("/staff")).json()
            return [a["role"] for a in staff] == ["Head of Strategic Intelligence"]

        await wait_until(shows_new_role, timeout=10)


async def test_a_restarted_worker_remembers_the_directory(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    ns = herald_topics
    port = free_port()
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "HERALD_TOPIC_NAMESPACE": ns,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_DIRECTORY_PORT": str(port),
        "HERALD_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    record = {"name": "Lynda Bowler", "role": "Libraries Web Manager", "handle": "lmbowler"}
    first = cmd("upsert", "lynda-bowler", **record)
    process = ServiceProcess("directory", env, port, tmp_path).start()
    try:
        await send(kafka_bootstrap, ns, first)
        assert (await outcome(kafka_bootstrap, ns, first)).type == ADDED
    finally:
        process.stop()

    again, marker = cmd("upsert", "lynda-bowler", **record), cmd("update", "lynda-bowler", private=True)
    process = ServiceProcess("directory", env, port, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            # The view is rebuilt from the snapshot; until then GET /staff answers 503.
            async def loaded() -> httpx.Response | None:
                response = await http.get("/staff")
                return response if response.status_code != 503 else None

            staff = await wait_until(loaded, timeout=15)
            assert isinstance(staff, httpx.Response) and staff.status_code == 200
            assert [a["handle"] for a in staff.json()] == ["lmbowler"]
        # The table is recovered from its changelog: the same import again is a no-op.
        await send(kafka_bootstrap, ns, again, marker)
        await outcome(kafka_bootstrap, ns, marker)
        events = await collect_events(
            kafka_bootstrap,
            DIRECTORY_EVENTS,
            namespace=ns,
            count=2,
            where=lambda e: e.subject == "lynda-bowler",
        )
        assert [e.data["request_id"] for e in events] == [first.request_id, marker.request_id]
    finally:
        process.stop()
