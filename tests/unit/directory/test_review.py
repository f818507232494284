"""The review report from plain records: six months unchecked flagged, bad outcomes listed."""

from datetime import UTC, datetime, timedelta

from services.directory.checks.review import review
from shared.events import StaffMember
from shared.events.directory import SocialAccount

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SIX_MONTHS = timedelta(days=183)


def account(
    account_id: str, *, checked_days_ago: int | None, outcome: str | None = None, **more: object
) -> SocialAccount:
    return SocialAccount(
        account_id=account_id,
        platform="x",
        handle=account_id,
        url=f"https://x.com/{account_id}",
        added_at=NOW - timedelta(days=400),
        changed_at=NOW - timedelta(days=400),
        last_checked_at=None if checked_days_ago is None else NOW - timedelta(days=checked_days_ago),
        check_outcome=outcome,  # type: ignore[arg-type]
        **more,  # type: ignore[arg-type]
    )


def test_review_flags_the_unchecked_and_lists_what_checks_found_wrong() -> None:
    ann = StaffMember(
        staff_id="s-ann",
        version=3,
        name="Ann",
        accounts=(
            account("fine", checked_days_ago=10, outcome="exists"),
            account("stale", checked_days_ago=200, outcome="exists"),
            account("never", checked_days_ago=None),
            account("gone", checked_days_ago=5, outcome="missing"),
            account("quiet", checked_days_ago=5, outcome="inactive"),
            account("claimed", checked_days_ago=5, outcome="mismatch", visibility="private"),
            account("old", checked_days_ago=None, status="archived"),
        ),
    )
    left = StaffMember(
        staff_id="s-bob",
        version=2,
        name="Bob",
        status="left",
        accounts=(account("bobs", checked_days_ago=None),),
    )
    rows = review([left, ann], NOW, unchecked_after=SIX_MONTHS)
    assert [(r.reason, r.account_id) for r in rows] == [
        ("missing", "gone"),
        ("mismatch", "claimed"),
        ("inactive", "quiet"),
        ("unchecked", "never"),
        ("unchecked", "stale"),
    ]
    assert rows[1].visibility == "private" and rows[0].name == "Ann"
