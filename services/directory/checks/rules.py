"""What a platform's answer says about an account, and which accounts are due a check. Pure: the
clock is passed in, answers are plain JSON, so every rule is tested without a server.

Outcomes: `exists` (there, public, posting), `missing` (no such account, or suspended),
`protected` (X protected / Mastodon locked: the posts are not public), `inactive` (no post within
`inactive_after`), `mismatch` (the account points elsewhere: a Bluesky DID document that does not
name the handle, a Mastodon account that moved). An inconclusive result (error, rate limit) has no
outcome and is not recorded; `retry_at` says when the platform lets us ask again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.events import StaffMember
from shared.events.directory import CheckOutcome, SocialAccount


@dataclass(frozen=True)
class CheckResult:
    """A check's result; `detail` is one line for logs and never names the handle."""

    outcome: CheckOutcome | None
    detail: str
    last_post_at: datetime | None = None
    retry_at: float | None = None

    @property
    def conclusive(self) -> bool:
        return self.outcome is not None


def inconclusive(detail: str, retry_at: float | None = None) -> CheckResult:
    return CheckResult(None, detail, retry_at=retry_at)


def by_activity(last_post_at: datetime | None, now: datetime, inactive_after: timedelta) -> CheckResult:
    """`exists` if the newest post is recent enough, else `inactive` (no post at all included)."""
    if last_post_at is None:
        return CheckResult("inactive", "no posts", None)
    if now - last_post_at > inactive_after:
        return CheckResult("inactive", f"newest post {last_post_at:%Y-%m-%d}", last_post_at)
    return CheckResult("exists", "posting", last_post_at)


def x_user(body: dict[str, Any]) -> CheckResult | dict[str, Any]:
    """`GET /2/users/by/username/:u`'s body: the user (to look at their posts), or a result.

    X answers an unknown or suspended user with 200 and a resource-not-found error."""
    user = body.get("data")
    if isinstance(user, dict) and user.get("id"):
        if user.get("protected"):
            return CheckResult("protected", "protected account")
        return user
    errors = body.get("errors") or []
    if any(str(e.get("type", "")).endswith("/resource-not-found") for e in errors if isinstance(e, dict)):
        return CheckResult("missing", "X has no such user (or it is suspended)")
    return inconclusive("X answered without a user or an error")


def newest_post(tweets_body: dict[str, Any]) -> datetime | None:
    """The newest `created_at` among `GET /2/users/:id/tweets`'s posts (None: no posts)."""
    times = [_instant(t.get("created_at")) for t in tweets_body.get("data") or [] if isinstance(t, dict)]
    found = [t for t in times if t is not None]
    return max(found) if found else None


def mastodon_account(status: int, body: Any, now: datetime, inactive_after: timedelta) -> CheckResult:
    """`GET /api/v1/accounts/lookup`'s answer. `last_status_at` is a date (Mastodon ≥ 3.1)."""
    if status == 404:
        return CheckResult("missing", "Mastodon has no such account")
    if status == 429:
        return inconclusive("rate limited by Mastodon")
    if status != 200 or not isinstance(body, dict):
        return inconclusive(f"Mastodon answered {status}")
    if body.get("suspended"):
        return CheckResult("missing", "suspended account")
    if body.get("moved"):
        return CheckResult("mismatch", "the account moved elsewhere")
    if body.get("locked"):
        return CheckResult("protected", "locked account")
    return by_activity(_instant(body.get("last_status_at")), now, inactive_after)


def bluesky_identity(handle: str, did: str, document: Any) -> CheckResult:
    """The DID document must point back at the handle (`alsoKnownAs` holds `at://<handle>`), else
    anyone could claim a handle by pointing a DNS record at their DID."""
    if not isinstance(document, dict) or document.get("id") != did:
        return CheckResult("mismatch", "the DID document is missing or names another DID")
    names = [str(n).lower() for n in document.get("alsoKnownAs") or []]
    if f"at://{handle.lower()}" not in names:
        return CheckResult("mismatch", "the DID document does not name the handle")
    return CheckResult("exists", "handle and DID agree")


@dataclass(frozen=True)
class Due:
    staff_id: str
    account: SocialAccount


def due(
    members: Iterable[StaffMember],
    now: datetime,
    *,
    platforms: Iterable[str],
    recheck_after: timedelta,
    limit: int,
    skip: Iterable[str] = (),
) -> list[Due]:
    """Accounts to check now, never-checked and longest-unchecked first: on a checked platform,
    of someone still here, not archived, not checked within `recheck_after`, and not in `skip`
    (account ids whose result is on its way, or whose platform asked us to wait)."""
    wanted, skipped = set(platforms), set(skip)
    found = [
        Due(m.staff_id, a)
        for m in members
        if m.status == "active"
        for a in m.accounts
        if a.platform in wanted
        and a.status != "archived"
        and a.account_id not in skipped
        and (a.last_checked_at is None or now - a.last_checked_at >= recheck_after)
    ]
    oldest = datetime.min.replace(tzinfo=UTC)
    found.sort(key=lambda d: (d.account.last_checked_at or oldest, d.account.account_id))
    return found[:limit]


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 instant or date, as aware UTC; None if absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
