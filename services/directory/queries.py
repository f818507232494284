"""What the directory's read endpoints answer: search, filters, `/verify` and the exports. Pure
functions of the records and the question (the HTTP layer only parses and serialises), so who may
see what is tested with plain data.

Privacy is decided before anything else: a public question is asked of the public projection
(`view.public_staff`) only, so a search can never match a private handle or an e-mail address,
and `/verify` answers a private account exactly as it answers one nobody holds.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from services.directory.api_models import Export, PublicStaff, StaffOfficial, VerifyAnswer
from services.directory.handles import Canonical, InvalidHandle, canonical, handle_key
from services.directory.view import public_staff, shown_accounts
from shared.events import StaffMember
from shared.events.directory import PLATFORMS, AccountStatus, SocialAccount

ACCOUNT_STATUSES: tuple[str, ...] = AccountStatus.__args__  # type: ignore[attr-defined]
#: Platforms whose profile URLs are on their own hosts, tried before Mastodon (any host).
_URL_PLATFORMS = tuple(p for p in PLATFORMS if p != "mastodon") + ("mastodon",)

#: Columns typed by people (the rest are ids, canonical handles and URLs, flags and times).
FREE_TEXT = frozenset({"staff_id", "name", "role", "department", "email"})
PUBLIC_COLUMNS = ("staff_id", "name", "role", "department", "platform", "handle", "url", "verified")
ADMIN_COLUMNS = (
    *PUBLIC_COLUMNS,
    "email",
    "forum_member",
    "staff_status",
    "version",
    "account_id",
    "visibility",
    "status",
    "added_at",
    "changed_at",
    "last_checked_at",
)


class QueryError(ValueError):
    """A question the directory cannot answer; `field` names the query parameter at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StaffQuery:
    """`?q=` (name, role, department or handle, any case), `?platform=`, `?status=` (an account's)."""

    q: str = ""
    platform: str | None = None
    status: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> StaffQuery:
        platform = params.get("platform")
        status = params.get("status")
        if platform is not None and platform not in PLATFORMS:
            raise QueryError("platform", f"unknown platform; one of {', '.join(PLATFORMS)}")
        if status is not None and status not in ACCOUNT_STATUSES:
            raise QueryError("status", f"unknown account status; one of {', '.join(ACCOUNT_STATUSES)}")
        return cls(q=(params.get("q") or "").strip(), platform=platform, status=status)

    def wants(self, platform: str, status: str) -> bool:
        return self.platform in (None, platform) and self.status in (None, status)

    def matches(self, *texts: str | None) -> bool:
        needle = self.q.casefold()
        return not needle or any(needle in text.casefold() for text in texts if text)


#: How long `GET /staff/{id}?min_version=` waits without `?wait=` (or the longest wait, if less).
DEFAULT_READ_WAIT_SECONDS = 10.0
_WHOLE = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


def _number(
    params: Mapping[str, str], name: str, *, whole: bool, low: float, high: float | None
) -> float | None:
    """The parameter as a number in [low, high] (None when absent), written as the document's
    JSON Schema reads a number: no `inf`, `nan`, `1_0` or spaces, which Python's `float` would take."""
    raw = params.get(name)
    if raw is None:
        return None
    rule = f"expected {'a whole number' if whole else 'a number'} from {low:g}"
    rule += f" to {high:g}" if high is not None else " up"
    if not (_WHOLE if whole else _NUMBER).fullmatch(raw):
        raise QueryError(name, rule)
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:  # more digits than Python converts
        raise QueryError(name, rule) from None
    if value < low or (high is not None and value > high):
        raise QueryError(name, rule)
    return value


def command_wait(params: Mapping[str, str], *, longest: float) -> float:
    """`POST /staff/commands?wait=`: seconds to wait for the outcome (0: do not wait)."""
    return _number(params, "wait", whole=False, low=0, high=longest) or 0.0


@dataclass(frozen=True)
class VersionWait:
    """`GET /staff/{id}?min_version=&wait=`: answer once this worker holds that version (or its
    erasure), waiting at most `wait` seconds; no `min_version`: answer at once."""

    min_version: int | None
    wait: float

    @classmethod
    def parse(cls, params: Mapping[str, str], *, longest: float) -> VersionWait:
        min_version = _number(params, "min_version", whole=True, low=1, high=None)
        wait = _number(params, "wait", whole=False, low=0, high=longest)
        default = min(DEFAULT_READ_WAIT_SECONDS, longest)
        return cls(
            min_version=None if min_version is None else int(min_version),
            wait=default if wait is None else wait,
        )


def public_results(members: Iterable[StaffMember], query: StaffQuery) -> list[PublicStaff]:
    """The people anyone may see who match, each with only their shown accounts that match."""
    found = []
    for member in members:
        shown = public_staff(member)
        if shown is None:
            continue
        accounts = [a for a in shown.accounts if query.wants(a.platform, "active")]
        texts = (shown.name, shown.role, shown.department, *(a.handle for a in accounts))
        if accounts and query.matches(*texts):
            found.append(shown.model_copy(update={"accounts": accounts}))
    return found


def admin_results(members: Iterable[StaffMember], query: StaffQuery) -> list[StaffMember]:
    """Everyone who matches (e-mail too), with their accounts narrowed to the filters."""
    found = []
    for member in members:
        accounts = tuple(a for a in member.accounts if query.wants(a.platform, a.status))
        if (query.platform or query.status) and not accounts:
            continue
        texts = (member.name, member.role, member.department, member.email, *(a.handle for a in accounts))
        if query.matches(*texts):
            found.append(member.model_copy(update={"accounts": accounts}))
    return found


def verify(
    params: Mapping[str, str], owners: Mapping[tuple[str, str], str], records: Mapping[str, StaffMember]
) -> VerifyAnswer:
    """Is `?platform=&handle=` (or `?url=`) a council account? Yes only for an account anyone may
    see; every other answer is made from the question alone."""
    platform, asked = _question(params)
    owner = records.get(owners.get(handle_key(platform, asked.handle), ""))
    account = _shown_account(owner, platform, asked.handle) if owner is not None else None
    if owner is None or account is None:
        return VerifyAnswer(council_account=False, platform=platform, handle=asked.handle, url=asked.url)  # type: ignore[arg-type]
    official = StaffOfficial(
        staff_id=owner.staff_id, name=owner.name, role=owner.role, department=owner.department
    )
    return VerifyAnswer(
        council_account=True,
        platform=account.platform,
        handle=account.handle,
        url=account.url,
        verified=account.verified,
        staff=official,
    )


def _question(params: Mapping[str, str]) -> tuple[str, Canonical]:
    platform, handle, url = params.get("platform"), params.get("handle"), params.get("url")
    if platform is not None and platform not in PLATFORMS:
        raise QueryError("platform", f"unknown platform; one of {', '.join(PLATFORMS)}")
    if handle is not None and url is not None:
        raise QueryError("url", "give a handle or a url, not both")
    if handle is not None:
        if platform is None:
            raise QueryError("platform", "a handle needs its platform")
        try:
            return platform, canonical(platform, handle)
        except InvalidHandle as exc:
            raise QueryError("handle", exc.reason) from None
    if url is None:
        raise QueryError("handle", "give platform and handle, or a profile url")
    for candidate in (platform,) if platform is not None else _URL_PLATFORMS:
        try:
            return candidate, canonical(candidate, url)
        except InvalidHandle:
            continue
    raise QueryError("url", "not a profile URL of a known platform")


def _shown_account(member: StaffMember, platform: str, handle: str) -> SocialAccount | None:
    key = handle_key(platform, handle)
    return next((a for a in shown_accounts(member) if handle_key(a.platform, a.handle) == key), None)


def export_json(records: list[PublicStaff] | list[StaffMember], *, admin: bool, now: datetime) -> Export:
    return Export(generated_at=now.isoformat(), access="admin" if admin else "public", staff=records)


def export_csv(records: list[PublicStaff] | list[StaffMember], *, admin: bool) -> str:
    """One row per account (a person without one shown gets no row), as a spreadsheet reads it."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ADMIN_COLUMNS if admin else PUBLIC_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        person = {"staff_id": record.staff_id, "name": record.name, "role": record.role}
        person["department"] = record.department
        if isinstance(record, StaffMember):
            person |= {
                "email": record.email or "",
                "forum_member": record.forum_member,
                "staff_status": record.status,
                "version": record.version,
            }
        for account in record.accounts:
            row = {**person, **account.model_dump(mode="json")}
            writer.writerow({column: _cell(column, row.get(column)) for column in writer.fieldnames})
    return out.getvalue()


def _cell(column: str, value: object) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP CSV injection). Handles and URLs are
    in their platform's canonical form (a Mastodon handle starts with @) and are left alone."""
    text = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    if column in FREE_TEXT and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text
