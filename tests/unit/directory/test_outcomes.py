"""A POST that waits is answered by the outcome carrying its request id, and by nothing else."""

from datetime import UTC, datetime

from services.directory.outcomes import Outcomes, outcome_body
from shared.events import StaffAccountChangeRejected

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def refusal(request_id: str) -> StaffAccountChangeRejected:
    return StaffAccountChangeRejected(
        request_id=request_id,
        staff_id="staff-b",
        action="add_account",
        field="handle",
        reason="that x account is already held by staff id 'staff-a'",
        rejected_at=NOW,
    )


async def test_the_waiter_gets_its_own_outcome_only() -> None:
    outcomes = Outcomes()
    with outcomes.expect("req-1") as outcome:
        assert not outcomes.apply("staff-b", refusal("req-other"), partition=0, offset=0)
        assert not outcome.done()
        assert outcomes.apply("staff-b", refusal("req-1"), partition=0, offset=1)
        assert outcome_body(await outcome).model_dump(exclude_none=True) == {
            "request_id": "req-1",
            "staff_id": "staff-b",
            "outcome": "rejected",
            "field": "handle",
            "reason": "that x account is already held by staff id 'staff-a'",
        }
    assert not outcomes.apply("staff-b", refusal("req-1"), partition=0, offset=2)  # no longer waited for
