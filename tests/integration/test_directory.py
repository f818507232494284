"""The directory service as real subprocesses against the real broker: the example staff list
imported twice, every public endpoint and public topic checked for private handles and e-mails,
erase, commands over HTTP and their refusals (two workers: test_directory_workers.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import feedparser
import httpx
import jsonschema
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from herald.staff_file import plan_import, read_staff_file
from shared.envelope import CloudEvent, decode
from shared.events import StaffCommand, StaffMember
from shared.events.directory import AccountSpec, claim_key
from shared.producer import EventProducer
from shared.topics import (
    DIRECTORY_COMMANDS,
    DIRECTORY_EVENTS,
    DIRECTORY_HANDLE_CLAIMS,
    DIRECTORY_SNAPSHOT,
    PUBLIC_TOPICS,
)
from tests.support.kafka import collect_events, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "staff.yaml"
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "contract"
ADMIN_TOKEN = "admin-token-for-tests"
CHANGED = "herald.directory.staff.changed.v1"
ERASED = "herald.directory.staff.erased.v1"
REJECTED = "herald.directory.change.rejected.v1"
PRIVATE_HANDLES = ("piptucker", "rcarter")
#: Every page the directory serves to a GET without parameters.
PAGES = (
    "/staff",
    "/staff/export.csv",
    "/staff/export.json",
    "/changes.atom",
    "/openapi.json",
    "/health",
    "/metrics",
)
#: Searches that would find a private account or an e-mail if the public answers searched them.
SEARCHES = ("pip", "tucker", "rcarter", "carter", "staff.devon", "@", "x")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


def worker_env(bootstrap: str, namespace: str, state_dir: Path, port: int) -> dict[str, str]:
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_DIRECTORY_PORT": str(port),
        "HERALD_ADMIN_TOKEN": ADMIN_TOKEN,
    }


@pytest.fixture
def directory(kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A running directory worker; yields its base URL."""
    port = free_port()
    process = ServiceProcess(
        "directory", worker_env(kafka_bootstrap, herald_topics, state_dir, port), port, tmp_path
    )
    process.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def cmd(action: str, staff_id: str, **fields: object) -> StaffCommand:
    return StaffCommand(
        request_id=f"{action}-{uuid.uuid4().hex[:8]}", action=action, staff_id=staff_id, **fields
    )  # type: ignore[arg-type]


async def send(bootstrap: str, namespace: str, *commands: StaffCommand) -> None:
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        for command in commands:
            await producer.send(DIRECTORY_COMMANDS, command.staff_id, command)


async def outcomes(bootstrap: str, namespace: str, *commands: StaffCommand) -> dict[str, CloudEvent]:
    """The directory's answer to each command, by request id."""
    wanted = {c.request_id for c in commands}
    events = await collect_events(
        bootstrap,
        DIRECTORY_EVENTS,
        namespace=namespace,
        count=len(wanted),
        where=lambda e: e.data.get("request_id") in wanted,
    )
    assert len(events) == len(wanted), f"{len(events)} of {len(wanted)} answered"
    return {e.data["request_id"]: e for e in events}


async def everything(bootstrap: str, topic: str, partitions: int) -> list:  # type: ignore[type-arg]
    """Every record now on a topic, with a plain aiokafka consumer (no group), to the end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


def latest(records: list) -> dict[bytes, bytes | None]:  # type: ignore[type-arg]
    """A compacted topic read as a table: the last value per key (None: tombstone). faust's
    changelog spells a str key as JSON; the quotes are dropped so both read alike."""
    return {r.key.strip(b'"'): r.value for r in records}


async def members(bootstrap: str, namespace: str) -> list[StaffMember]:
    table = latest(
        await everything(bootstrap, namespace + DIRECTORY_SNAPSHOT.name, DIRECTORY_SNAPSHOT.partitions)
    )
    return [decode(value, DIRECTORY_SNAPSHOT.accepts)[1] for value in table.values() if value is not None]  # type: ignore[misc]


async def public_pages(
    http: httpx.AsyncClient, staff_ids: list[str], headers: dict[str, str] | None = None
) -> str:
    """The text of every page the directory serves to a GET: the lists, searches and filters,
    each person, the exports, the Atom feed, /verify, the document. (/verify of a private handle
    echoes the question, so it is checked on its own: it must answer as for an unknown one.)"""
    paths = [
        *PAGES,
        *(f"/staff/{staff_id}" for staff_id in staff_ids),
        *(f"/staff?q={quote(word)}" for word in SEARCHES),
        *(f"/staff/export.csv?platform=x&q={quote(word)}" for word in SEARCHES),
        "/verify?platform=x&handle=suety",
        f"/verify?url={quote('https://twitter.com/Shaun32')}",
    ]
    texts = []
    for path in paths:
        response = await http.get(path, headers=headers)
        assert response.status_code in (200, 404), (path, response.status_code, response.text)
        texts.append(response.text)
    return "\n".join(texts)


async def test_the_example_list_twice_privacy_and_erase(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    ns = herald_topics
    rows = read_staff_file(EXAMPLE)
    first = plan_import(rows, [], requested_by="import:staff.yaml")
    await send(kafka_bootstrap, ns, *first)
    answers = await outcomes(kafka_bootstrap, ns, *first)
    assert {e.type for e in answers.values()} == {CHANGED}
    ids = [c.staff_id for c in first]
    by_name = {c.name: c.staff_id for c in first}

    async def all_in_snapshot() -> list[StaffMember] | None:
        found = await members(kafka_bootstrap, ns)
        return found if len(found) == len(first) else None

    held = await wait_until(all_in_snapshot, timeout=15)
    # The second import finds the same people and changes nothing; a refused marker per person
    # (same key, so decided after their put) shows the directory has read it.
    second = plan_import(rows, held, requested_by="import:staff.yaml")  # type: ignore[arg-type]
    assert [c.staff_id for c in second] == ids
    markers = [cmd("remove_account", staff_id, account_id="acc-none") for staff_id in ids]
    await send(kafka_bootstrap, ns, *second, *markers)
    assert {e.type for e in (await outcomes(kafka_bootstrap, ns, *markers)).values()} == {REJECTED}
    events = await collect_events(kafka_bootstrap, DIRECTORY_EVENTS, namespace=ns, count=100, timeout=3)
    assert sorted(e.data["request_id"] for e in events) == sorted(c.request_id for c in (*first, *markers))

    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:
        public = (await http.get("/staff")).json()
        assert len(public) == 11 and {p["name"] for p in public} >= {"Sue Tylcoat", "Shaun Carter"}
        pages = await public_pages(http, ids)
        for handle in PRIVATE_HANDLES:
            assert handle not in pages.lower()
        assert not EMAIL.search(pages), EMAIL.search(pages)
        assert (await http.get(f"/staff/{by_name['Pip Tucker']}")).status_code == 404
        assert len((await http.get("/staff", params={"q": "carter"})).json()) == 1  # Shaun, not Richard
        sue = (await http.get("/verify", params={"url": "https://x.com/SueT"})).json()
        assert sue["council_account"] is False  # another handle: not ours
        sue = (await http.get("/verify", params={"platform": "x", "handle": "@suety"})).json()
        assert sue["council_account"] is True and sue["staff"]["name"] == "Sue Tylcoat"
        private_answers = {
            handle: (await http.get("/verify", params={"platform": "x", "handle": handle})).content
            for handle in PRIVATE_HANDLES
        }
        unknown = (await http.get("/verify", params={"platform": "x", "handle": "nobody_here"})).json()
        assert unknown == {
            "council_account": False,
            "platform": "x",
            "handle": "nobody_here",
            "url": "https://x.com/nobody_here",
            "verified": False,
            "staff": None,
        }
        feed = feedparser.parse((await http.get("/changes.atom")).content)
        assert not feed.bozo and feed.version == "atom10" and len(feed.entries) == 11, feed.bozo_exception
        assert {"Sue Tylcoat on X: suety", "Shaun Carter on X: Shaun32"} <= {e.title for e in feed.entries}
        exported = (await http.get("/staff/export.json")).json()
        assert exported["access"] == "public" and exported["staff"] == public
        csv_rows = list(csv.DictReader(io.StringIO((await http.get("/staff/export.csv")).text)))
        assert len(csv_rows) == 11 and "email" not in csv_rows[0]
        with_token = await public_pages(http, ids, admin())
        assert all(handle in with_token for handle in PRIVATE_HANDLES)
        assert (
            "pip.tucker@staff.devon.example" in with_token and "sue.tylcoat@staff.devon.example" in with_token
        )
        admin_rows = list(
            csv.DictReader(io.StringIO((await http.get("/staff/export.csv", headers=admin())).text))
        )
        assert {"piptucker", "rcarter"} <= {row["handle"] for row in admin_rows}
        assert "pip.tucker@staff.devon.example" in {row["email"] for row in admin_rows}
        found = (await http.get("/staff", params={"q": "rcarter"}, headers=admin())).json()
        assert [m["name"] for m in found] == ["Richard Carter"]

    # Public topics (what this stack wrote there: heartbeats, errors) hold no private handle or e-mail.
    read: dict[str, int] = {}
    for spec in PUBLIC_TOPICS:
        records = await everything(kafka_bootstrap, ns + spec.name, spec.partitions)
        read[spec.name] = len(records)
        for record in records:
            text = (record.value or b"").decode(errors="replace").lower()
            assert not any(handle in text for handle in PRIVATE_HANDLES) and not EMAIL.search(text), spec.name
    assert read["herald.ops.heartbeat"] > 0, read  # the walk read something: it could have found a leak

    pip = by_name["Pip Tucker"]
    erase = cmd("erase", pip, requested_by="cli:test")
    await send(kafka_bootstrap, ns, erase)
    assert (await outcomes(kafka_bootstrap, ns, erase))[erase.request_id].type == ERASED

    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:

        async def pip_gone() -> bool:
            return (await http.get(f"/staff/{pip}", headers=admin())).status_code == 404

        await wait_until(pip_gone, timeout=10)
        for headers in (None, admin()):
            pages = (await public_pages(http, ids, headers)).lower()
            assert "piptucker" not in pages and "pip tucker" not in pages and "pip.tucker" not in pages
        # A private handle was answered exactly as one nobody holds: as now, when nobody does.
        gone = (await http.get("/verify", params={"platform": "x", "handle": "piptucker"})).content
        assert private_answers["piptucker"] == gone
        assert json.loads(private_answers["rcarter"]) == {
            **unknown,
            "handle": "rcarter",
            "url": "https://x.com/rcarter",
        }

    # The compacted snapshot (the directory's only state), read as a table, holds nothing of Pip;
    # the year-long events hold nothing personal of anyone.
    table = latest(
        await everything(kafka_bootstrap, ns + DIRECTORY_SNAPSHOT.name, DIRECTORY_SNAPSHOT.partitions)
    )
    assert table[pip.encode()] is None
    assert not any(b"piptucker" in (value or b"") for value in table.values())
    # So does the claims log read as a table: Pip's claim is a tombstone, the others' stand.
    claims = latest(await everything(kafka_bootstrap, ns + DIRECTORY_HANDLE_CLAIMS.name, 1))
    assert claims[claim_key("x", "piptucker", pip).encode()] is None
    assert not any(pip.encode() in (value or b"") for value in claims.values())
    assert claims[claim_key("x", "rcarter", by_name["Richard Carter"]).encode()] is not None
    events_text = b"\n".join(
        r.value
        for r in await everything(kafka_bootstrap, ns + DIRECTORY_EVENTS.name, DIRECTORY_EVENTS.partitions)
    ).decode()
    for row in rows:
        assert (
            row.name not in events_text
            and f'"{row.handle}"' not in events_text
            and row.role not in events_text
        )
    assert not EMAIL.search(events_text)


async def test_commands_over_http_and_their_refusals(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    ns = herald_topics
    x_account = AccountSpec(platform="x", handle="samlee", status="active")
    mastodon = AccountSpec(platform="mastodon", handle="@sam@social.example", status="active")
    librarian = cmd("add_staff", "staff-a", name="Sam Lee", role="Librarian", accounts=(x_account, mastodon))
    planner = cmd("add_staff", "staff-b", name="Sam Lee", role="Planner")
    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:

        async def post(command: StaffCommand, headers: dict[str, str] | None = None) -> httpx.Response:
            return await http.post(
                "/staff/commands",
                content=command.model_dump_json(),
                headers=admin() if headers is None else headers,
            )

        assert (await post(librarian, {})).status_code == 401  # no token: refused, nothing sent
        bad = await http.post("/staff/commands", content=b'{"action": "add_staff"}', headers=admin())
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in bad.json()["errors"]] == ["request_id", "staff_id"]
        wrong = await http.post(
            "/staff/commands", content=librarian.model_dump_json(), headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401 and wrong.json()["detail"] == "invalid admin token"
        for path in PAGES[:4]:  # a wrong token on a read is refused too, never quietly public
            refused = await http.get(path, headers={"Authorization": "Bearer nope"})
            assert refused.status_code == 401 and refused.json()["title"] == "Unauthorized", path
        for command in (librarian, planner):
            response = await post(command)
            assert response.status_code == 202 and response.json() == {"request_id": command.request_id}
        assert {e.type for e in (await outcomes(kafka_bootstrap, ns, librarian, planner)).values()} == {
            CHANGED
        }

        taken = cmd("add_account", "staff-b", platform="x", handle="https://x.com/SAMLEE")
        invalid = cmd("add_account", "staff-b", platform="bluesky", handle="not a domain")
        fresh = cmd("update_staff", "staff-b", department="Planning", expected_version=1)
        stale = cmd("update_staff", "staff-b", department="Other", expected_version=1)
        unknown = cmd("leave", "staff-nobody")
        for command in (taken, invalid, fresh, stale, unknown):
            assert (await post(command)).status_code == 202
        answers = await outcomes(kafka_bootstrap, ns, taken, invalid, fresh, stale, unknown)
        refusals = {rid: (e.type, e.data.get("field"), e.data.get("reason")) for rid, e in answers.items()}
        assert refusals[taken.request_id] == (
            REJECTED,
            "handle",
            "that x account is already held by staff id 'staff-a'",
        )
        assert refusals[invalid.request_id] == (
            REJECTED,
            "handle",
            "a Bluesky handle is a domain such as name.bsky.social",
        )
        assert refusals[stale.request_id] == (REJECTED, "version", "stale: the record is at version 2, not 1")
        assert refusals[unknown.request_id] == (REJECTED, "staff_id", "unknown staff id 'staff-nobody'")
        assert answers[fresh.request_id].type == CHANGED and answers[fresh.request_id].data["version"] == 2

        async def both_sams() -> list | None:  # type: ignore[type-arg]
            staff = (await http.get("/staff", headers=admin())).json()
            return staff if [m.get("department") for m in staff] == ["", "Planning"] else None

        staff = await wait_until(both_sams, timeout=10)
        bad_filter = await http.get("/staff", params={"platform": "myspace"})
        assert bad_filter.status_code == 422 and bad_filter.json()["errors"][0]["field"] == "platform"
        # Two people of one name stay two; one person on two platforms is one record.
        assert [(m["staff_id"], m["name"]) for m in staff] == [("staff-a", "Sam Lee"), ("staff-b", "Sam Lee")]  # type: ignore[index]
        assert [a["handle"] for a in staff[0]["accounts"]] == ["samlee", "@sam@social.example"]  # type: ignore[index]


async def test_an_hr_system_sends_a_command_as_the_published_schema_says(
    directory: str, kafka_bootstrap: str, herald_topics: str
) -> None:
    """A record made by hand with a plain aiokafka producer, as another team's HR system would from
    docs/contract/internal/ and docs/consuming.md, is decided like Herald's own commands."""
    data = {
        "request_id": "hr-42",
        "action": "add_staff",
        "staff_id": "hr-0042",
        "name": "Jo Bloggs",
        "role": "Planner",
        "email": "jo.bloggs@staff.devon.example",
        "accounts": [{"platform": "bluesky", "handle": "@jo.example.org", "status": "active"}],
        "requested_by": "hr:payroll",
    }
    record = {
        "specversion": "1.0",
        "id": "hr-event-42",
        "source": "/hr/payroll",
        "type": "herald.directory.command.v1",
        "time": "2026-03-01T09:00:00Z",
        "subject": "hr-0042",
        "datacontenttype": "application/json",
        "data": data,
    }
    schemas = (
        CONTRACT / "schemas" / "envelope.schema.json",
        CONTRACT / "internal" / "herald.directory.command.v1.schema.json",
    )
    envelope, command = (json.loads(path.read_text()) for path in schemas)
    jsonschema.validate(record, envelope)
    jsonschema.validate(data, command)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            herald_topics + DIRECTORY_COMMANDS.name,
            json.dumps(record).encode(),
            key=b"hr-0042",
            headers=[("content-type", b"application/cloudevents+json")],
        )
    finally:
        await producer.stop()
    answer = (await outcomes(kafka_bootstrap, herald_topics, StaffCommand.model_validate(data)))["hr-42"]
    assert answer.type == CHANGED and answer.data["requested_by"] == "hr:payroll"
    async with httpx.AsyncClient(base_url=directory, timeout=5) as http:

        async def jo() -> dict | None:  # type: ignore[type-arg]
            response = await http.get("/verify", params={"url": "https://bsky.app/profile/jo.example.org"})
            return response.json() if response.json()["council_account"] else None

        found = await wait_until(jo, timeout=10)
        assert found["staff"] == {
            "staff_id": "hr-0042",
            "name": "Jo Bloggs",
            "role": "Planner",
            "department": "",
        }  # type: ignore[index]
