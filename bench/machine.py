"""What a bench says about where it ran and what a process cost: cores, load, which broker, and CPU
seconds read from /proc (Linux), so figures from two machines can be told apart."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine(broker: str) -> dict[str, object]:
    """The machine's cores and 1-minute load now, and the broker the bench used."""
    return {"cpus": os.cpu_count(), "load_1m": round(os.getloadavg()[0], 2), "broker": broker}


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0.0 when it is gone or unknown)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def broker_pid() -> int | None:
    """The local Kafka broker's JVM (`kafka.Kafka` on its command line), if it runs here."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"kafka.Kafka" in command:
            return int(entry.name)
    return None


def quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """A quantile from a Prometheus histogram's cumulative buckets [(upper bound, count)], linear
    within the bucket it falls in (as PromQL's histogram_quantile)."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return 0.0
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            inside = count - below
            return lower + (upper - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = upper, count
    return lower
