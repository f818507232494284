"""Notices a table recovery that has stopped making progress.

faust's recovery waits, without a deadline, until it has read every changelog partition up to the
highwater it measured when the rebalance began. If the records stop arriving (records consumed by
the fetcher but never handed to the recovery, a partition whose last offset holds no record, ...)
faust only logs "No event received for active tp …" every few seconds: the worker stays in
recovery, processes nothing, and the partitions it was given are worked by nobody.

Herald's runtime samples the recovery and asks `StallDecider`; on a stall it reports to ops
(`herald.ops.errors`, kind `recovery_stalled`) and the worker exits non-zero, so its supervisor
(`herald up`, compose's `restart: unless-stopped`, Kubernetes) starts it again with a fresh
consumer, a new rebalance and a recovery from the start. Not an in-process restart: faust's own
restart signal, set while the actives are being read, is swallowed by that wait, which then goes on
as if the tables were complete and resumes the stream partitions over a half-read table before the
restart begins (faust 0.15 `Recovery._restart_recovery`).
"""

from __future__ import annotations

from dataclasses import dataclass

#: What Herald reports on herald.ops.errors when a recovery stalls.
STALL_ERROR_KIND = "recovery_stalled"


@dataclass(frozen=True)
class RecoverySample:
    """What the recovery looks like now."""

    in_recovery: bool
    remaining: int  # changelog records still to read, over all active partitions


class StallDecider:
    """Pure: fed samples with the time they were taken, says when a recovery has stalled.

    Progress is any change in the number of records still to read; a recovery that reads nothing
    for `stall_seconds` has stalled. Not recovering is never a stall."""

    def __init__(self, stall_seconds: float) -> None:
        if stall_seconds <= 0:
            raise ValueError("stall_seconds must be positive")
        self.stall_seconds = stall_seconds
        self._remaining: int | None = None
        self._since: float | None = None

    def stalled(self, sample: RecoverySample, now: float) -> bool:
        if not sample.in_recovery:
            self._remaining = self._since = None
            return False
        if self._since is None or sample.remaining != self._remaining:
            self._remaining, self._since = sample.remaining, now
            return False
        return now - self._since >= self.stall_seconds


class RecoveryStalled(RuntimeError):
    """The table recovery made no progress for the bound: the worker must be started again."""
