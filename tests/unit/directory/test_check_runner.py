"""A round of checks with scripted checkers (the `Checker` interface is the directory's own):
results become record_check commands; a rate limit pauses that platform until its reset; an
account whose result is on its way is not checked again."""

from datetime import UTC, datetime, timedelta

from services.directory.checks.rules import CheckResult, inconclusive
from services.directory.checks.runner import CheckRunner
from shared.events import StaffCommand, StaffMember
from shared.events.directory import SocialAccount

NOW = datetime(2026, 6, 1, tzinfo=UTC)


class Scripted:
    def __init__(self, platform: str, *results: CheckResult) -> None:
        self.platform = platform
        self.results = list(results)
        self.asked: list[str] = []

    async def check(self, handle: str, now: datetime) -> CheckResult:
        self.asked.append(handle)
        return self.results.pop(0)

    async def close(self) -> None:
        pass


def account(handle: str, platform: str) -> SocialAccount:
    return SocialAccount(
        account_id=f"a-{handle}",
        platform=platform,
        handle=handle,
        url=f"https://e.example/{handle}",  # type: ignore[arg-type]
        added_at=NOW,
        changed_at=NOW,
    )


PEOPLE = [
    StaffMember(
        staff_id="s-1",
        version=1,
        name="A",
        accounts=(account("x1", "x"), account("x2", "x"), account("m1", "mastodon")),
    )
]


async def test_a_round_sends_results_pauses_a_limited_platform_and_skips_pending() -> None:
    sent: list[StaffCommand] = []
    wall = [1_000.0]
    x = Scripted(
        "x",
        inconclusive("rate limited by X", retry_at=1_100.0),
        CheckResult("exists", "ok"),
        CheckResult("missing", "gone"),
    )
    mastodon = Scripted("mastodon", CheckResult("inactive", "quiet", last_post_at=NOW - timedelta(days=300)))

    async def send(command: StaffCommand) -> None:
        sent.append(command)

    runner = CheckRunner(
        {"x": x, "mastodon": mastodon},  # type: ignore[dict-item]
        members=lambda: PEOPLE,
        send=send,
        recheck_after=timedelta(days=30),
        per_round=10,
        clock=lambda: NOW,
        wall=lambda: wall[0],
    )
    assert await runner.round() == 1
    assert x.asked == ["x1"]  # the 429 paused X: x2 waits for the reset
    assert [(c.action, c.account_id, c.check_outcome, c.checked_at) for c in sent] == [
        ("record_check", "a-m1", "inactive", NOW)
    ]
    assert sent[0].last_post_at == NOW - timedelta(days=300) and sent[0].requested_by == "directory-checks"

    wall[0] = 1_050.0  # still before X's reset; m1's result is on its way
    assert await runner.round() == 0 and x.asked == ["x1"] and mastodon.asked == ["m1"]

    wall[0] = 1_101.0
    assert await runner.round() == 2
    assert x.asked == ["x1", "x1", "x2"]
    assert [(c.account_id, c.check_outcome) for c in sent[1:]] == [("a-x1", "exists"), ("a-x2", "missing")]
