"""The kill test's trap (tests/support/publisher_harness.KillSwitchX): a trap sprung when no
publisher is alive must stay armed for the next generation.

CI once failed with "kill at before_answer never came": a request of a generation just killed was
answered after the test had armed the next trap and before it launched the next process; the
kill found nothing to kill, the trap was spent, and the new generation ran with no kill coming."""

from __future__ import annotations

from pathlib import Path

from tests.support.publisher_harness import KillSwitchX, _Trap


def test_a_trap_with_nothing_to_kill_is_put_back(tmp_path: Path) -> None:
    fake = KillSwitchX(tmp_path)
    alive = False
    killed: list[str] = []

    def kill() -> bool:
        if alive:
            killed.append("generation")
        return alive

    fake.arm(kill, after_posts=2, when="before_answer")
    trap = fake._trap
    assert trap is not None
    trap.seen = 2
    fake._trap = None  # what `_answer` does when the count is reached
    fake._fire(trap, "before_answer", "a stale post")
    assert fake.kills == [] and fake._trap is not None
    assert fake._trap.seen == 0 and fake._trap.after_posts == 2  # stale answers do not count

    alive = True
    rearmed = fake._trap
    fake._trap = None
    fake._fire(rearmed, "before_answer", "the new generation's post")
    assert killed == ["generation"]
    assert [k.where for k in fake.kills] == ["before_answer"] and fake._trap is None


def test_a_spent_trap_is_not_put_back_over_a_disarm(tmp_path: Path) -> None:
    fake = KillSwitchX(tmp_path)
    fake.arm(lambda: True, when="on_request")
    trap = fake._trap
    assert isinstance(trap, _Trap)
    fake._trap = None
    fake._fire(trap, "on_request", None)
    assert len(fake.kills) == 1 and fake._trap is None
