"""Never twice, never lost, never left for a person: the publisher process is SIGKILLed at chosen
and at random points of posting a stream of items, restarted each time, and in the end every item
is on the (loopback, TLS) X exactly once per channel account and published — including when the
kill fell between X taking the post and the ledger recording it (the timeline lookup finds it) or
before the call reached X (looked for twice, then posted under X's duplicate guard). A second call
is allowed only as one X refuses as a duplicate (docs/adr/0011).

The kills come from inside the fake X (`KillSwitchX`): right after it accepted a post and before
its answer leaves, or a moment after answering (the result may or may not be in the ledger; the
offset commit, every 2.8 s in faust, almost surely is not), or a random moment after a request arrived.
The seed is printed; `HERALD_KILL_SEED=<seed>` replays a run's choices.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered
from tests.support.kafka import wait_until
from tests.support.ports import free_port
from tests.support.publisher_harness import (
    KillSwitchX,
    KillWhen,
    OutcomeReader,
    PublisherProcess,
    consumed_everything,
    live_x_env,
    make_items,
    produce,
)

pytestmark = pytest.mark.integration

PUBLISHED = "herald.post.published.v1"
FAILED = "herald.post.failed.v1"
HELD = "herald.post.held.v1"


def is_unconfirmed(event: CloudEvent) -> bool:
    """The publisher's "I may have posted this, a person must check" (PostFailed or PostHeld)."""
    data = event.data
    return (event.type == FAILED and data.get("error_code") == "unconfirmed") or (
        event.type == HELD and data.get("rule") == "unconfirmed"
    )


@dataclass
class Verdict:
    """How each item ended, and everything that is wrong with that."""

    posted_once: int
    refused_repeats: int  # guarded second calls X refused as duplicates (the guard at work)
    problems: list[str]

    def summary(self) -> str:
        return (
            f"{self.posted_once} published once, {self.refused_repeats} second call(s) refused by X as "
            f"duplicates; {len(self.problems)} problem(s)"
        )


def judge(
    items: list[FeedItemDiscovered], fake: KillSwitchX, outcomes: dict[str, list[CloudEvent]]
) -> Verdict:
    """Per item: one post on X; published, with its post's id; a second call only as X's
    duplicate guard refusing it; nothing left for a person (X's guard settles every unknown)."""
    problems: list[str] = []
    once = refused = 0
    for item in items:
        assert item.link is not None
        link = item.link
        statuses = [call.status for call in list(fake.calls) if call.text and link in call.text]
        posts = fake.posts_for(link)
        events = outcomes.get(item.item_id, [])
        kinds = {"unconfirmed" if is_unconfirmed(e) else e.type for e in events}
        label = f"{item.item_id}: calls {statuses}, {len(posts)} post(s), outcomes {sorted(kinds) or 'none'}"
        if len(posts) > 1:
            problems.append(f"POSTED TWICE {label}")
        elif any(status != 403 for status in statuses[1:]):
            problems.append(f"A SECOND CALL X DID NOT REFUSE {label}")
        elif not events:
            problems.append(f"LOST (no outcome on herald.posts) {label}")
        elif len(kinds) > 1:
            problems.append(f"CONTRADICTORY outcomes {label}")
        elif kinds == {"unconfirmed"}:
            problems.append(f"HELD FOR A PERSON although X's duplicate guard could settle it {label}")
        elif kinds == {PUBLISHED}:
            ids = {e.data["post_id"] for e in events}
            if len(posts) != 1 or ids != {posts[0]["id"]}:
                problems.append(f"PUBLISHED but X has no such post {label} ids={ids}")
            else:
                once += 1
                refused += len(statuses) - 1
        else:
            problems.append(f"UNEXPECTED outcome {label}")
    return Verdict(once, refused, problems)


class KillRun:
    """One test's publisher generations against one fake X, one state dir, one namespace."""

    def __init__(self, bootstrap: str, namespace: str, state_dir: Path, log_dir: Path, fake: KillSwitchX):
        self.bootstrap = bootstrap
        self.namespace = namespace
        self.state_dir = state_dir
        self.log_dir = log_dir
        self.fake = fake
        self.items: list[FeedItemDiscovered] = []
        self.generations = 0
        self.service: PublisherProcess | None = None

    async def add_items(self, count: int) -> None:
        fresh = make_items(count)
        await produce(self.bootstrap, self.namespace, fresh)
        self.items.extend(fresh)

    def pending(self) -> int:
        """Items no call of which has reached X yet."""
        return sum(1 for item in self.items if item.link and self.fake.calls_for(item.link) == 0)

    def _next(self) -> PublisherProcess:
        port = free_port()
        env = live_x_env(self.bootstrap, self.namespace, self.state_dir, port, self.fake)
        self.generations += 1
        self.service = PublisherProcess(env, port, self.log_dir)
        return self.service

    def launch(self) -> PublisherProcess:
        """A new generation, not waited for: the caller has armed its kill."""
        return self._next().launch()

    async def wait_killed(self, service: PublisherProcess, timeout: float) -> bool:
        """Whether the armed kill fired on this generation. The fake records a kill only after the
        process is dead, on its own thread, so "the process is gone" alone would race that record;
        a process that ended by itself (no kill recorded) is a False, not a kill."""
        process = service.process
        assert process is not None
        fired = self.fake.fired
        try:
            await wait_until(
                lambda: fired.is_set() or process.poll() is not None, timeout=timeout, interval=0.02
            )
            if not fired.is_set():  # dead: give the killing thread its moment to record the kill
                await wait_until(fired.is_set, timeout=5, interval=0.01)
        except AssertionError:
            return False
        return True

    async def settle(self, reader: OutcomeReader, timeout: float = 90.0) -> None:
        """A last generation, left alone until every item has an outcome and every record on
        feed-items is committed; then stopped cleanly."""
        service = self._next().start(timeout=90)
        ids = {item.item_id for item in self.items}

        async def done() -> bool:
            outcomes = await reader.poll()
            return ids <= outcomes.keys() and await consumed_everything(self.bootstrap, self.namespace)

        try:
            await wait_until(done, timeout=timeout, interval=0.3)
        except AssertionError:
            pass  # the verdict names what is missing
        finally:
            service.stop()
        await reader.poll(timeout_ms=500)

    def logs(self) -> str:
        return "publisher logs: " + ", ".join(sorted(str(p) for p in self.log_dir.glob("publisher-*.log")))

    def tail(self, service: PublisherProcess, lines: int = 40) -> str:
        """The end of one generation's log, for a failure message (CI keeps no files)."""
        try:
            text = service.log_path.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text[-lines:])


@pytest.fixture
def kill_x(tmp_path: Path):
    with KillSwitchX(tmp_path) as fake:
        yield fake


async def test_kill_after_x_accepted_and_before_the_commit_posts_once(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, kill_x: KillSwitchX
) -> None:
    """The must-show point: X has taken the post, the publisher dies before hearing back (so
    before its result and offset commit); after the restart that item is on X exactly once and
    reported, and every other item of the stream is posted exactly once."""
    run = KillRun(kafka_bootstrap, herald_topics, state_dir, tmp_path, kill_x)
    await run.add_items(12)  # about three per partition of feed-items
    kill_x.arm(lambda: run.service is not None and run.service.sigkill(), after_posts=3, when="before_answer")
    service = run.launch()
    assert await run.wait_killed(service, timeout=60), (
        f"the publisher was not killed at its third post; its log ends:\n{run.tail(service)}"
    )
    [kill] = kill_x.kills
    assert kill.where == "before_answer" and kill.text is not None
    killed = next(item for item in run.items if item.link and item.link in kill.text)

    async with OutcomeReader(kafka_bootstrap, herald_topics) as reader:
        await run.settle(reader)
        verdict = judge(run.items, kill_x, reader.by_item)
        print(verdict.summary())
        assert not verdict.problems, "\n".join([*verdict.problems, run.logs()])
        assert len(kill_x.posts_for(killed.link or "")) == 1
        # Nothing told the publisher how that call ended: it looked, found it, and recorded it.
        [outcome_kind] = {
            "unconfirmed" if is_unconfirmed(e) else e.type for e in reader.by_item[killed.item_id]
        }
        assert outcome_kind == PUBLISHED


KILLS = 20


async def test_random_kills_every_item_once(
    kafka_bootstrap: str, herald_topics: str, state_dir: Path, tmp_path: Path, kill_x: KillSwitchX
) -> None:
    """At least 20 SIGKILLs at random points (seeded) while a stream of items is posted."""
    seed = int(os.environ.get("HERALD_KILL_SEED") or random.SystemRandom().randrange(2**32))
    print(f"kill test seed: HERALD_KILL_SEED={seed}")
    rng = random.Random(seed)
    # Every kind of point, shuffled; the must-show one ("accepted, not answered") several times.
    # X's points several times each, and moments unrelated to X's answers (`on_request` + delay:
    # the request in flight, the ledger writes, the event, the next items, the commit).
    kinds: list[KillWhen] = ["before_answer"] * 6 + ["after_answer"] * 7 + ["on_request"] * (KILLS - 13)
    rng.shuffle(kinds)

    run = KillRun(kafka_bootstrap, herald_topics, state_dir, tmp_path, kill_x)
    await run.add_items(40)
    started = time.monotonic()
    for kind in kinds:
        if run.pending() < 30:  # a generation may post a few dozen items before its kill
            await run.add_items(30)
        if kind == "before_answer":
            after, delay = rng.randint(1, 3), 0.0
        else:  # right after, soon after (result/event), or some items later (between calls)
            after = rng.randint(1, 3)
            delay = rng.choice([0.0, rng.uniform(0.0, 0.03), rng.uniform(0.03, 0.3)])
        kill_x.arm(
            lambda: run.service is not None and run.service.sigkill(),
            after_posts=after,
            when=kind,
            delay=delay,
        )
        service = run.launch()
        fired = await run.wait_killed(service, timeout=45)
        kill_x.disarm()
        if not fired:
            service.kill()
            pytest.fail(
                f"kill at {kind} never came (seed {seed}, generation {run.generations}, "
                f"{run.pending()} items not yet sent); its log ends:\n{run.tail(service)}"
            )

    where = Counter(k.where for k in kill_x.kills)
    total_kills = len(kill_x.kills)
    print(f"{total_kills} kills {dict(where)} in {time.monotonic() - started:.0f}s")

    async with OutcomeReader(kafka_bootstrap, herald_topics) as reader:
        await run.settle(reader)
        verdict = judge(run.items, kill_x, reader.by_item)
    print(f"{len(run.items)} items, {run.generations} generations: {verdict.summary()} (seed {seed})")
    assert total_kills >= KILLS
    assert where["before_answer"] == 6, "every 'accepted, not answered' kill must have fired"
    assert not verdict.problems, "\n".join([f"seed {seed}", *verdict.problems, run.logs()])
    posts_per_item = Counter(len(kill_x.posts_for(item.link or "")) for item in run.items)
    assert posts_per_item == Counter({1: len(run.items)}), posts_per_item
