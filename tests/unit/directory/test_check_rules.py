"""What each platform's answer means, and which accounts are due a check: plain data, clock passed in."""

from datetime import UTC, datetime, timedelta

from services.directory.checks.rules import (
    CheckResult,
    bluesky_identity,
    by_activity,
    due,
    mastodon_account,
    newest_post,
    x_user,
)
from shared.events import StaffMember
from shared.events.directory import SocialAccount

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HALF_YEAR = timedelta(days=180)
NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"


def test_x_user_answers() -> None:
    assert x_user({"data": {"id": "1", "username": "a", "protected": False}}) == {
        "id": "1",
        "username": "a",
        "protected": False,
    }
    assert x_user({"data": {"id": "1", "protected": True}}).outcome == "protected"  # type: ignore[union-attr]
    missing = x_user({"errors": [{"title": "Not Found Error", "type": NOT_FOUND}]})
    assert isinstance(missing, CheckResult) and missing.outcome == "missing"
    odd = x_user({"errors": [{"title": "Something else", "type": "about:blank"}]})
    assert isinstance(odd, CheckResult) and not odd.conclusive


def test_activity_from_the_newest_post() -> None:
    posts = {"data": [{"created_at": "2026-05-01T10:00:00.000Z"}, {"created_at": "2026-05-20T10:00:00.000Z"}]}
    newest = newest_post(posts)
    assert newest == datetime(2026, 5, 20, 10, tzinfo=UTC)
    assert by_activity(newest, NOW, HALF_YEAR).outcome == "exists"
    assert by_activity(NOW - timedelta(days=181), NOW, HALF_YEAR).outcome == "inactive"
    assert by_activity(newest_post({"meta": {"result_count": 0}}), NOW, HALF_YEAR).outcome == "inactive"


def test_mastodon_answers() -> None:
    def outcome(status: int, body: object = None) -> str | None:
        return mastodon_account(status, body, NOW, HALF_YEAR).outcome

    assert outcome(200, {"id": "1", "last_status_at": "2026-05-30"}) == "exists"
    assert outcome(200, {"id": "1", "last_status_at": "2025-01-01"}) == "inactive"
    assert outcome(200, {"id": "1", "last_status_at": None}) == "inactive"
    assert outcome(200, {"id": "1", "locked": True, "last_status_at": "2026-05-30"}) == "protected"
    assert outcome(200, {"id": "1", "moved": {"id": "2"}}) == "mismatch"
    assert outcome(200, {"id": "1", "suspended": True}) == "missing"
    assert outcome(404) == "missing"
    assert outcome(429) is None and outcome(503) is None


def test_a_bluesky_did_document_must_point_back_at_the_handle() -> None:
    did = "did:plc:abc"
    assert bluesky_identity(
        "Ann.Example.org", did, {"id": did, "alsoKnownAs": ["at://ann.example.org"]}
    ).outcome == ("exists")
    assert (
        bluesky_identity("ann.example.org", did, {"id": did, "alsoKnownAs": ["at://x.org"]}).outcome
        == "mismatch"
    )
    assert bluesky_identity("ann.example.org", did, {"id": "did:plc:other"}).outcome == "mismatch"
    assert bluesky_identity("ann.example.org", did, None).outcome == "mismatch"


def account(
    account_id: str, platform: str = "x", checked: datetime | None = None, **more: object
) -> SocialAccount:
    return SocialAccount(
        account_id=account_id,
        platform=platform,  # type: ignore[arg-type]
        handle=account_id,
        url=f"https://x.com/{account_id}",
        added_at=NOW,
        changed_at=NOW,
        last_checked_at=checked,
        **more,  # type: ignore[arg-type]
    )


def test_due_takes_the_never_and_longest_unchecked_first_and_leaves_the_rest() -> None:
    here = StaffMember(
        staff_id="s-1",
        version=1,
        name="A",
        accounts=(
            account("recent", checked=NOW - timedelta(days=1)),
            account("old", checked=NOW - timedelta(days=60)),
            account("never"),
            account("archived", status="archived"),
            account("fb", platform="facebook"),
            account("waiting"),
        ),
    )
    gone = StaffMember(staff_id="s-2", version=1, name="B", status="left", accounts=(account("left"),))
    found = due(
        [here, gone], NOW, platforms=["x"], recheck_after=timedelta(days=30), limit=10, skip={"waiting"}
    )
    assert [d.account.account_id for d in found] == ["never", "old"]
    assert [
        d.account.account_id
        for d in due([here], NOW, platforms=["x"], recheck_after=timedelta(days=30), limit=1)
    ] == ["never"]


def test_where_a_did_web_document_is() -> None:
    from services.directory.checks.bluesky import did_web_url

    assert did_web_url("did:web:example.org") == "https://example.org/.well-known/did.json"
    assert did_web_url("did:web:example.org%3A8443") == "https://example.org:8443/.well-known/did.json"
    assert did_web_url("did:web:example.org:staff:ann") == "https://example.org/staff/ann/did.json"
