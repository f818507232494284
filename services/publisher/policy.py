"""The council's social media policy as configuration, and the pure decision it makes (issue 4, point 3).

`evaluate(candidate, policy, now, spend)` says whether a post may go out now or is held, by which
rule, why, and when it goes out by itself (`release_at`; None: a person must approve it). Rules,
in the order they are checked (the first that holds wins):

1. `blackout`  — a period (e.g. pre-election) in which nothing automatic goes out; released at its end.
2. `approval`  — feeds that always need a person.
3. `keyword`   — a blocked word or phrase in the title, summary or text (whole words, any case).
4. `quiet_hours` — per channel (`x`, `x:corporate` or `*`), a daily window, released when it ends.
5. `cost_cap`  — X charges per post (more with a link): a daily and a monthly cap per X account;
   the post is held until the next day (or month) rather than overspend.

A post a person approved skips every rule (the ledger still stops a second post). All times are
Europe/London (configurable), through zoneinfo. No I/O: tests pass plain data and a fixed clock.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.localtime import LONDON, QuietHours, quiet_window_end, zone_named


class Blackout(BaseModel):
    """A period in which nothing automatic goes out (times without a zone are local)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="blackout", description="E.g. `pre-election period`.")
    start: datetime
    end: datetime


class CostCap(BaseModel):
    """Most one X account may spend per local day and per calendar month (same unit as prices)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    daily: float | None = Field(default=None, ge=0)
    monthly: float | None = Field(default=None, ge=0)


class CostConfig(BaseModel):
    """What X charges per post; caps per `x:account`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_post: float = Field(default=0.0, ge=0, description="Price of a post without a link.")
    per_post_with_link: float = Field(default=0.0, ge=0, description="Price of a post with a link.")
    caps: dict[str, CostCap] = Field(default_factory=dict, description="`x:account` → cap.")


class PolicyConfig(BaseModel):
    """The `policy:` section of the publisher's config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field(default=LONDON, description="Zone of quiet hours, blackouts and cost days.")
    quiet_hours: dict[str, QuietHours] = Field(
        default_factory=dict, description="`kind`, `kind:account` or `*` → quiet window."
    )
    blackouts: list[Blackout] = Field(default_factory=list)
    blocked_keywords: list[str] = Field(
        default_factory=list, description="Words or phrases that hold a post."
    )
    approval_feeds: list[str] = Field(
        default_factory=list, description="Feed ids or feed-URL globs whose posts always need approval."
    )
    cost: CostConfig = Field(default_factory=CostConfig)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_named(value)
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Candidate:
    """What the policy looks at for one post on one target."""

    target: str  # kind:account
    feed_id: str
    feed_url: str
    title: str
    summary: str
    text: str
    has_link: bool
    approved: bool = False


@dataclass(frozen=True)
class Hold:
    """Not now: `rule`, a reason a person can read, and when it goes out by itself (or None)."""

    rule: str
    reason: str
    release_at: datetime | None


def _local(value: datetime, zone: ZoneInfo) -> datetime:
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def _quiet_for(target: str, policy: PolicyConfig) -> QuietHours | None:
    kind = target.partition(":")[0]
    return policy.quiet_hours.get(target) or policy.quiet_hours.get(kind) or policy.quiet_hours.get("*")


def blocked_word(text: str, words: list[str]) -> str | None:
    """The first blocked word or phrase found in `text` as a whole word, any case."""
    for word in words:
        word = word.strip()
        if word and regex.search(
            rf"(?<![\p{{L}}\p{{N}}]){regex.escape(word)}(?![\p{{L}}\p{{N}}])", text, regex.I
        ):
            return word
    return None


def feed_matches(patterns: list[str], feed_id: str, feed_url: str) -> bool:
    return any(pattern == feed_id or fnmatch.fnmatchcase(feed_url, pattern) for pattern in patterns)


def post_cost(target: str, has_link: bool, policy: PolicyConfig) -> float:
    """What one post costs on `target` (only X charges)."""
    if target.partition(":")[0] != "x":
        return 0.0
    return policy.cost.per_post_with_link if has_link else policy.cost.per_post


@dataclass
class SpendBook:
    """Money spent per target per local day and month, from the ledger's posted entries."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(LONDON))
    amounts: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))

    def periods(self, when: datetime) -> tuple[str, str]:
        local = when.astimezone(self.zone)
        return local.strftime("day:%Y-%m-%d"), local.strftime("month:%Y-%m")

    def add(self, target: str, amount: float, when: datetime) -> None:
        if amount:
            for period in self.periods(when):
                self.amounts[(target, period)] += amount

    def spent(self, target: str, now: datetime) -> tuple[float, float]:
        day, month = self.periods(now)
        return self.amounts.get((target, day), 0.0), self.amounts.get((target, month), 0.0)


def _cost_hold(candidate: Candidate, policy: PolicyConfig, now: datetime, spend: SpendBook) -> Hold | None:
    cap = policy.cost.caps.get(candidate.target)
    cost = post_cost(candidate.target, candidate.has_link, policy)
    if cap is None or not cost:
        return None
    zone = policy.zone
    day_spent, month_spent = spend.spent(candidate.target, now)
    local = now.astimezone(zone)
    epsilon = 1e-9
    if cap.monthly is not None and month_spent + cost > cap.monthly + epsilon:
        first = (local.replace(day=1) + timedelta(days=32)).replace(day=1)
        release = datetime.combine(first.date(), time(0), tzinfo=zone).astimezone(UTC)
        return Hold(
            "cost_cap",
            f"monthly cap {cap.monthly:g} reached ({month_spent:g} spent, post costs {cost:g})",
            release,
        )
    if cap.daily is not None and day_spent + cost > cap.daily + epsilon:
        release = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
        return Hold(
            "cost_cap", f"daily cap {cap.daily:g} reached ({day_spent:g} spent, post costs {cost:g})", release
        )
    return None


def evaluate(
    candidate: Candidate, policy: PolicyConfig, now: datetime, spend: SpendBook | None = None
) -> Hold | None:
    """None: post now. Else the Hold (see the module docstring for the order of the rules)."""
    if candidate.approved:
        return None
    zone = policy.zone
    for blackout in policy.blackouts:
        start, end = _local(blackout.start, zone), _local(blackout.end, zone)
        if start <= now < end:
            return Hold("blackout", f"{blackout.name} until {end.isoformat()}", end.astimezone(UTC))
    if feed_matches(policy.approval_feeds, candidate.feed_id, candidate.feed_url):
        return Hold("approval", f"feed {candidate.feed_id} always needs approval", None)
    word = blocked_word(
        "\n".join((candidate.title, candidate.summary, candidate.text)), policy.blocked_keywords
    )
    if word is not None:
        return Hold("keyword", f"blocked word {word!r}", None)
    window = _quiet_for(candidate.target, policy)
    if window is not None:
        release = quiet_window_end(window, now, zone)
        if release is not None:
            return Hold(
                "quiet_hours",
                f"quiet hours {window.start:%H:%M}-{window.end:%H:%M} on {candidate.target}",
                release,
            )
    if spend is not None:
        return _cost_hold(candidate, policy, now, spend)
    return None
