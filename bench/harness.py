"""What every bench needs, so each one starts the same way on a fresh machine and reports the
same way: a Kafka broker (the one named, else one of its own), rounds and their median, and a
console for its table, which is followed by one JSON line."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

ROUNDS = 3  # benchmarks run three rounds and report each one and their median


@contextmanager
def kafka_bootstrap() -> Iterator[str]:
    """`HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker in a temp state dir
    (jars from the Herald cache, fetched by Maven on first use), stopped afterwards. A fresh
    broker holds no other run's topics, which slow every client's start."""
    external = os.environ.get("HERALD_KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    from herald.broker import LocalBroker
    from shared.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="herald-bench-broker-") as state:
        broker = LocalBroker(state_dir=Path(state), cache_dir=load_settings().cache_dir)
        print("starting a local Kafka broker (first use fetches its jars with Maven)…", file=sys.stderr)
        bootstrap = broker.start(timeout=180)
        try:
            yield bootstrap
        finally:
            broker.stop()


def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def console() -> Console:
    """Rich output for tables: the terminal's width, or 120 columns on a pipe (not rich's 80)."""
    return Console(width=None if sys.stdout.isatty() else 120)
