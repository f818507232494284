"""Two directory workers on the real broker, splitting the people by partition of the commands
topic (docs/adr/0014-directory-split-by-partition.md).

Either worker answers reads for everyone, whoever decided them, and both rebuild their state from
the compacted snapshot after a restart; one handle sent for three different people at once, through
both workers' HTTP and the commands topic, goes to exactly one of them although two workers decide
them; when a worker is SIGKILLed, the other takes its people over and still knows every handle given
out.

The people of each test have staff ids in different partitions of the (4-partition) commands topic,
so both workers decide some of them.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared.events import StaffCommand
from shared.events.directory import AccountSpec
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS
from tests.integration.test_directory import (
    CHANGED,
    REJECTED,
    admin,
    cmd,
    members,
    outcomes,
    send,
    worker_env,
)
from tests.support.kafka import collect_events, wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

WAIT = 30  # seconds a POST may wait for its outcome (a rebalance takes a few)


def spread(prefix: str, count: int) -> list[str]:
    """`count` staff ids that fall in `count` different partitions of the commands topic."""
    found: dict[int, str] = {}
    for n in itertools.count():
        staff_id = f"{prefix}-{n}"
        found.setdefault(DIRECTORY_COMMANDS.partition_for(staff_id.encode()), staff_id)
        if len(found) == count:
            return list(found.values())
    raise AssertionError("unreachable")


def x_account(handle: str) -> AccountSpec:
    return AccountSpec(platform="x", handle=handle, status="active")


@contextmanager
def two_workers(bootstrap: str, namespace: str, tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    ports = [free_port(), free_port()]
    workers = [
        ServiceProcess(
            "directory",
            {**worker_env(bootstrap, namespace, tmp_path / f"state{i}", port), "HERALD_INSTANCE_ID": f"w{i}"},
            port,
            tmp_path,
        )
        for i, port in enumerate(ports)
    ]
    try:
        for worker in workers:
            worker.start()
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def url(worker: ServiceProcess) -> str:
    return f"http://127.0.0.1:{worker.port}"


async def post(http: httpx.AsyncClient, worker: ServiceProcess, command: StaffCommand) -> dict:
    """POST a command to one worker and wait for its outcome, whoever decides it."""
    response = await http.post(
        f"{url(worker)}/staff/commands",
        params={"wait": str(WAIT)},
        content=command.model_dump_json(),
        headers=admin(),
        timeout=WAIT + 5,
    )
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


async def read(http: httpx.AsyncClient, worker: ServiceProcess, staff_id: str, version: int) -> dict:
    response = await http.get(
        f"{url(worker)}/staff/{staff_id}", params={"min_version": str(version)}, headers=admin(), timeout=35
    )
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


async def deciding(http: httpx.AsyncClient, workers: list[ServiceProcess], staff_id: str) -> ServiceProcess:
    """The worker that decides `staff_id`'s commands now: the one holding its partition (its
    /health lists the commands partitions it decides)."""
    partition = str(DIRECTORY_COMMANDS.partition_for(staff_id.encode()))

    async def which() -> ServiceProcess | None:
        owners = []
        for worker in workers:
            try:
                health = (await http.get(f"{url(worker)}/health", timeout=2)).json()
            except httpx.HTTPError:
                continue
            if partition in str(health.get("deciding", "")).split(","):
                owners.append(worker)
        return owners[0] if len(owners) == 1 else None

    owner = await wait_until(which, timeout=30)
    assert isinstance(owner, ServiceProcess)
    return owner


async def test_either_worker_answers_for_everyone_and_both_rebuild_from_the_snapshot(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
) -> None:
    ns = herald_topics
    ids = spread("staff", 4)
    by_kafka = [
        cmd("put_staff", staff_id, name=f"Kafka {staff_id}", accounts=(x_account(f"k_{n}"),))
        for n, staff_id in enumerate(ids)
    ]
    by_http = [
        cmd("add_staff", f"{staff_id}-h", name=f"Http {staff_id}", accounts=(x_account(f"h_{n}"),))
        for n, staff_id in enumerate(ids)
    ]
    hidden = cmd(
        "put_staff",
        "staff-hidden",
        name="Hidden Person",
        accounts=(AccountSpec(platform="x", handle="hidden_one", visibility="private", status="active"),),
    )
    by_kafka.append(hidden)
    everyone = sorted([c.staff_id for c in (*by_kafka, *by_http)])
    with two_workers(kafka_bootstrap, ns, tmp_path) as workers:
        await send(kafka_bootstrap, ns, *by_kafka)
        assert {e.type for e in (await outcomes(kafka_bootstrap, ns, *by_kafka)).values()} == {CHANGED}
        async with httpx.AsyncClient() as http:
            answers = [await post(http, workers[n % 2], c) for n, c in enumerate(by_http)]
            assert [(a["outcome"], a["version"]) for a in answers] == [("changed", 1)] * len(by_http)
            for worker in workers:
                for command in by_http:  # a read after one's own write, on either worker
                    assert (await read(http, worker, command.staff_id, 1))["name"] == command.name

                async def all_there(worker: ServiceProcess = worker) -> list | None:
                    staff = (await http.get(f"{url(worker)}/staff", headers=admin())).json()
                    return staff if sorted(m["staff_id"] for m in staff) == everyone else None

                assert await wait_until(all_there, timeout=15)
                public = (await http.get(f"{url(worker)}/staff")).json()
                assert sorted(m["staff_id"] for m in public) == [i for i in everyone if i != hidden.staff_id]

    again = [c.model_copy(update={"request_id": f"again-{c.request_id}"}) for c in by_kafka]
    markers = [cmd("remove_account", staff_id, account_id="acc-none") for staff_id in everyone]
    with two_workers(kafka_bootstrap, ns, tmp_path) as workers:
        async with httpx.AsyncClient() as http:
            for worker in workers:

                async def loaded(worker: ServiceProcess = worker) -> httpx.Response | None:
                    response = await http.get(f"{url(worker)}/staff", headers=admin())
                    return response if response.status_code != 503 else None  # 503: still reading

                staff = (await wait_until(loaded, timeout=15)).json()  # type: ignore[union-attr]
                assert sorted(m["staff_id"] for m in staff) == everyone
            await check_waiting_reads(http, workers[0], hidden.staff_id)
        # The same commands again change nothing: the decider's state is the rebuilt view.
        await send(kafka_bootstrap, ns, *again, *markers)
        assert {e.type for e in (await outcomes(kafka_bootstrap, ns, *markers)).values()} == {REJECTED}
        events = await collect_events(kafka_bootstrap, DIRECTORY_EVENTS, namespace=ns, count=100, timeout=3)
        assert not {e.data["request_id"] for e in events} & {a.request_id for a in again}


async def check_waiting_reads(http: httpx.AsyncClient, worker: ServiceProcess, hidden: str) -> None:
    """`?min_version=` and `?wait=`: what a version not there yet, a hidden person and nobody get,
    as problem details; a bad parameter is a 422 naming it."""
    base = f"{url(worker)}/staff"
    fast = {"min_version": "1", "wait": "0.2"}
    assert (await http.get(f"{base}/{hidden}", params=fast, headers=admin())).status_code == 200
    late = await http.get(f"{base}/{hidden}", params={**fast, "min_version": "2"}, headers=admin())
    assert late.status_code == 503 and late.headers["content-type"].startswith("application/problem+json")
    assert late.json()["detail"] == f"version 2 of {hidden!r} has not reached this worker; try again"
    # Without the token a hidden person and nobody answer alike, byte for byte.
    answers = [(await http.get(f"{base}/{staff_id}", params=fast)) for staff_id in (hidden, "staff-nobody")]
    assert [(r.status_code, r.content) for r in answers] == [(answers[0].status_code, answers[0].content)] * 2
    assert answers[0].status_code == 404 and answers[0].json()["detail"] == "no such staff member"
    assert (await http.get(f"{base}/staff-nobody", params=fast, headers=admin())).status_code == 503
    for params, field, message in (
        ({"min_version": "0"}, "min_version", "expected a whole number from 1 up"),
        ({"min_version": "1", "wait": "31"}, "wait", "expected a number from 0 to 30"),
        ({"min_version": "1", "wait": "nan"}, "wait", "expected a number from 0 to 30"),
    ):
        bad = await http.get(f"{base}/{hidden}", params=params, headers=admin())
        assert (bad.status_code, bad.json()["errors"]) == (422, [{"field": field, "message": message}])
    bad = await http.post(f"{base}/commands", params={"wait": "soon"}, content=b"{}", headers=admin())
    assert (bad.status_code, bad.json()["errors"]) == (
        422,
        [{"field": "wait", "message": "expected a number from 0 to 30"}],
    )


async def test_a_handle_sent_for_different_people_at_once_goes_to_exactly_one(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
) -> None:
    ns = herald_topics
    people = spread("racer", 3)
    rounds = 12
    with two_workers(kafka_bootstrap, ns, tmp_path) as workers:
        async with httpx.AsyncClient() as http:
            for n, staff_id in enumerate(people):
                assert (await post(http, workers[n % 2], cmd("add_staff", staff_id, name=f"Racer {n}")))[
                    "outcome"
                ] == "changed"
            winners: list[str] = []
            for round_ in range(rounds):
                handle = f"contested_{round_}"
                # The same account in three spellings, for three people, through three doors at once.
                claims = [
                    cmd("add_account", people[0], platform="x", handle=handle, status="active"),
                    cmd("add_account", people[1], platform="x", handle=f"@{handle.upper()}", status="active"),
                    cmd(
                        "add_account",
                        people[2],
                        platform="x",
                        handle=f"https://x.com/{handle}",
                        status="active",
                    ),
                ]
                by_http = await asyncio.gather(
                    post(http, workers[0], claims[0]),
                    post(http, workers[1], claims[1]),
                    send(kafka_bootstrap, ns, claims[2]),
                )
                via_kafka = (await outcomes(kafka_bootstrap, ns, claims[2]))[claims[2].request_id]
                results = [
                    (by_http[0]["outcome"], by_http[0].get("field")),
                    (by_http[1]["outcome"], by_http[1].get("field")),
                    ("changed" if via_kafka.type == CHANGED else "rejected", via_kafka.data.get("field")),
                ]
                accepted = [people[i] for i, (outcome, _) in enumerate(results) if outcome == "changed"]
                assert len(accepted) == 1, (round_, results)
                assert sorted(r for r in results if r[0] == "rejected") == [("rejected", "handle")] * 2, (
                    results
                )
                winners.append(accepted[0])

        # Every contested handle (X handles keep their case, compare without) is held by its winner
        # alone, on the snapshot as on both workers.
        held = {
            a.handle.casefold(): m.staff_id for m in await members(kafka_bootstrap, ns) for a in m.accounts
        }
        assert held == {f"contested_{r}": winners[r] for r in range(rounds)}
        async with httpx.AsyncClient() as http:
            for worker in workers:
                for staff_id in people:
                    wins = winners.count(staff_id)
                    record = await read(http, worker, staff_id, 1 + wins)
                    assert len(record["accounts"]) == wins


async def test_when_a_deciding_worker_is_killed_the_other_takes_its_people_over(
    kafka_bootstrap: str, herald_topics: str, tmp_path: Path
) -> None:
    ns = herald_topics
    first, second, third = spread("kill", 3)
    with two_workers(kafka_bootstrap, ns, tmp_path) as workers:
        async with httpx.AsyncClient() as http:
            made = await post(
                http,
                workers[1],
                cmd("add_staff", first, name="Decided Before", accounts=(x_account("taken"),)),
            )
            assert made["outcome"] == "changed"
            owner = await deciding(http, workers, first)  # the one that decided it: kill that one
            survivor = next(w for w in workers if w is not owner)
            owner.kill()
            # The survivor decides after the broker gives it the partition (the session timeout).
            after = await post(
                http, survivor, cmd("add_staff", second, name="Decided After", accounts=(x_account("fresh"),))
            )
            assert after == {
                "request_id": after["request_id"],
                "staff_id": second,
                "outcome": "changed",
                "version": 1,
            }
            for staff_id in (first, second, third):  # it decides everyone now
                assert (await deciding(http, [survivor], staff_id)) is survivor
            # It knows what the dead worker decided: that handle is still taken.
            refused = await post(
                http, survivor, cmd("add_staff", third, name="Too Late", accounts=(x_account("TAKEN"),))
            )
            assert (refused["outcome"], refused["field"]) == ("rejected", "handle")
            assert refused["reason"] == f"that x account is already held by staff id {first!r}"
            for staff_id in (first, second):
                assert (await read(http, survivor, staff_id, 1))["staff_id"] == staff_id
