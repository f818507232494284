"""A directory worker settles its people's handle claims when it takes their partitions: a handle a
record holds with no claim (a register from before the claims log) is claimed, so nobody else gets
it; a claim a crash left behind (its person does not hold the handle) is released, so the handle is
free. Real broker, a real worker process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.directory.handles import canonical
from shared.events import HandleClaimed, StaffMember
from shared.events.directory import SocialAccount, claim_key
from shared.producer import EventProducer
from shared.topics import DIRECTORY_HANDLE_CLAIMS, DIRECTORY_SNAPSHOT
from tests.integration.test_directory import (
    CHANGED,
    REJECTED,
    cmd,
    everything,
    latest,
    outcomes,
    send,
    worker_env,
)
from tests.support.kafka import wait_until
from tests.support.ports import free_port
from tests.support.processes import ServiceProcess

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def holding(staff_id: str, handle: str) -> StaffMember:
    found = canonical("x", handle)
    account = SocialAccount(
        account_id=f"acc-{staff_id}",
        platform="x",
        handle=found.handle,
        url=found.url,
        status="active",
        added_at=NOW,
        changed_at=NOW,
    )
    return StaffMember(staff_id=staff_id, version=1, name=f"Held {staff_id}", accounts=(account,))


async def test_a_worker_claims_what_records_hold_and_releases_what_a_crash_left(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path
) -> None:
    ns = herald_topics
    async with EventProducer(kafka_bootstrap, source="/herald/tests", namespace=ns) as producer:
        # Written before the worker starts: a record holding @oldroads with no claim of it, and a
        # claim of @freeparks by someone whose record does not hold it.
        await producer.send(DIRECTORY_SNAPSHOT, "staff-old", holding("staff-old", "oldroads"))
        await producer.send(
            DIRECTORY_SNAPSHOT, "staff-crashed", StaffMember(staff_id="staff-crashed", version=1, name="C")
        )
        left = HandleClaimed(
            staff_id="staff-crashed", platform="x", handle="freeparks", request_id="lost", claimed_at=NOW
        )
        await producer.send(DIRECTORY_HANDLE_CLAIMS, left.subject(), left)
    port = free_port()
    worker = ServiceProcess(
        "directory", worker_env(kafka_bootstrap, ns, state_dir, port), port, tmp_path
    ).start()
    try:
        wants_old = cmd(
            "add_staff",
            "staff-new",
            name="New",
            accounts=({"platform": "x", "handle": "OldRoads", "status": "active"},),
        )
        wants_free = cmd(
            "add_staff",
            "staff-other",
            name="Other",
            accounts=({"platform": "x", "handle": "freeparks", "status": "active"},),
        )
        await send(kafka_bootstrap, ns, wants_old, wants_free)
        answers = await outcomes(kafka_bootstrap, ns, wants_old, wants_free)
        assert answers[wants_old.request_id].type == REJECTED
        assert (
            answers[wants_old.request_id].data["reason"]
            == "that x account is already held by staff id 'staff-old'"
        )
        assert answers[wants_free.request_id].type == CHANGED

        async def claims() -> dict[bytes, bytes | None] | None:
            table = latest(await everything(kafka_bootstrap, ns + DIRECTORY_HANDLE_CLAIMS.name, 1))
            return table if claim_key("x", "freeparks", "staff-other").encode() in table else None

        table = await wait_until(claims, timeout=15)
        assert table[claim_key("x", "oldroads", "staff-old").encode()] is not None  # claimed on settling
        assert table[claim_key("x", "freeparks", "staff-crashed").encode()] is None  # released
        assert table[claim_key("x", "freeparks", "staff-other").encode()] is not None
        assert table.get(claim_key("x", "oldroads", "staff-new").encode()) is None  # refused: none standing
    finally:
        worker.stop()
