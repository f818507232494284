"""Flow control: one queue per channel account, and `flow.in_flight` workers taking from it.

Why per account: an account waiting for its rate-limit reset (X sends `x-rate-limit-remaining` and
`x-rate-limit-reset`, and no Retry-After) or for its spacing must not hold up other accounts, nor
the Kafka consumer. The FEED_ITEMS handler therefore only *admits* posts: it writes them to the
ledger as `queued` (awaiting the broker's ack) and puts their ledger keys on the account's lane.
A lane's workers take the most urgent job once the account may send again (several in flight at
once, each with its own intent durable before its call; one where spacing or a cost cap counts
posts one at a time):

- never before `blocked_until` (a 429's reset, or `remaining == 0` on a success, plus a margin);
- never sooner than `spacing` after the account's previous post;
- urgent routes first, then first come first served (the choice is made when the account may
  send, so an urgent item that arrives during a wait overtakes the ones already queued).

Nothing is dropped: a rate-limited post goes back on its lane. The lanes are memory only; the
ledger's `queued` entries are the durable truth they are rebuilt from after a restart.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

URGENT, NORMAL = 0, 1


@dataclass(order=True)
class Job:
    priority: int
    seq: int
    key: str = field(compare=False)


def next_send_at(*, blocked_until: float, last_sent: float | None, spacing: float) -> float:
    """The earliest moment (epoch seconds) the account may be called again."""
    spaced = last_sent + spacing if last_sent is not None else 0.0
    return max(blocked_until, spaced)


class AccountLane:
    """The queue of one `kind:account`; `next_job()` waits until a job may be sent, then gives it."""

    def __init__(
        self,
        target: str,
        *,
        spacing: float = 0.0,
        margin: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.target = target
        self.spacing = spacing
        self.margin = margin
        self.blocked_until = 0.0
        self.last_sent: float | None = None
        self._clock = clock
        self._sleep = sleep
        self._heap: list[Job] = []
        self._keys: set[str] = set()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        # Several workers may post at once, but only once the account has answered: the first post,
        # and the first after a rate-limit wait, goes alone (a probe), the others wait for its success.
        self._probe = True
        self._out = 0  # jobs handed out and not yet done

    def __len__(self) -> int:
        return len(self._heap)

    def __contains__(self, key: str) -> bool:
        return key in self._keys

    def put(self, key: str, *, urgent: bool = False, first: bool = False) -> bool:
        """Queue a ledger key (once); False if it is already queued here. `first`: ahead of the
        others of its priority (a post the service refused for its rate limit keeps its turn)."""
        if key in self._keys:
            return False
        self._keys.add(key)
        seq = next(self._seq)
        heapq.heappush(self._heap, Job(URGENT if urgent else NORMAL, -seq if first else seq, key))
        self._wake.set()
        return True

    def block_until(self, epoch: float) -> None:
        """Send nothing to this account before `epoch` (+ margin), and then one post alone."""
        self.blocked_until = max(self.blocked_until, epoch + self.margin)
        self._probe = True
        self._wake.set()

    def note_rate_limit(self, remaining: int | None, reset_at: float | None) -> None:
        """The service's own figures: with nothing left, wait for its reset."""
        if remaining is not None and remaining <= 0 and reset_at is not None:
            self.block_until(reset_at)

    def sent(self) -> None:
        """A post went out: the account answers, so several may be in flight again."""
        self.last_sent = self._clock()
        self._probe = False
        self._wake.set()

    def done(self) -> None:
        """A job handed out by `next_job` is over (posted, failed, held or back on the lane)."""
        self._out = max(0, self._out - 1)
        self._wake.set()

    def ready_at(self) -> float:
        return next_send_at(blocked_until=self.blocked_until, last_sent=self.last_sent, spacing=self.spacing)

    def pop_ready(self) -> str | None:
        """The next job if the account may send now (no waiting): for tests and the loop below."""
        if not self._heap or self._clock() < self.ready_at() or (self._probe and self._out > 0):
            return None
        job = heapq.heappop(self._heap)
        self._keys.discard(job.key)
        self._out += 1
        return job.key

    async def next_job(self) -> str:
        while True:
            key = self.pop_ready()
            if key is not None:
                return key
            self._wake.clear()
            if not self._heap or (self._probe and self._out > 0):  # nothing, or a probe is out
                await self._wake.wait()
                continue
            delay = max(0.0, self.ready_at() - self._clock())
            if self._sleep is not None:
                await self._sleep(delay)
                continue
            try:  # woken early by a new block (or job): recompute
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
