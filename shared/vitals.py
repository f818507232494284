"""The facts `/health`, `/ready`, heartbeats and `/metrics` report about a worker, sampled from its
faust app: the event loop's ticks, the consumer's fetches, its assignment and its lag.

faust's own `PrometheusMonitor` (on Herald's registry) already tracks the offsets read and
committed per partition; the end offsets come from the consumer's last fetch. What they mean is
decided in `shared.health`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shared import health


class Vitals:
    """What the runtime's ticker and the faust app know, as one `health.Sample`."""

    def __init__(self) -> None:
        self.born_at = self.loop_tick_at = time.monotonic()
        self.loop_lag = 0.0
        self.stopping = False

    def tick(self, expected_at: float) -> float:
        """The ticker woke: note when, and how late it was."""
        self.loop_tick_at = time.monotonic()
        self.loop_lag = max(self.loop_tick_at - expected_at, 0.0)
        return self.loop_tick_at

    def sample(self, app: Any, *, started: bool) -> health.Sample:
        consumer = getattr(app, "_consumer", None)  # None until faust has made it
        assigned = stream_partitions(app, consumer)
        return health.Sample(
            now=time.monotonic(),
            loop_tick_at=self.loop_tick_at,
            loop_lag=self.loop_lag,
            started=started,
            flow_active=bool(consumer is not None and consumer.flow_active),
            rebalancing=bool(getattr(app, "rebalancing", False)),
            in_recovery=bool(getattr(app, "in_recovery", False)),
            assigned=len(assigned),
            last_fetch_at=getattr(consumer, "last_fetch_at", None),
            born_at=self.born_at,
            lag=consumer_lag(app, consumer, assigned),
        )


def stream_partitions(app: Any, consumer: Any) -> list[Any]:
    """The partitions the worker's streams hold (its tables' changelogs left out)."""
    if consumer is None:
        return []
    try:
        changelogs = app.tables.changelog_topics
        return [tp for tp in consumer.assignment() if tp.topic not in changelogs]
    except Exception:  # no assignment yet
        return []


def consumer_lag(app: Any, consumer: Any, assigned: list[Any]) -> dict[str, int]:
    """Records behind per stream partition (`shared.health.lag_by_partition`)."""
    if consumer is None or not assigned:
        return {}
    monitor = app.monitor
    ends = {}
    for tp in assigned:
        try:
            ends[(tp.topic, tp.partition)] = consumer.highwater(tp)
        except Exception:  # the consumer thread is not up yet
            ends[(tp.topic, tp.partition)] = monitor.tp_end_offsets.get(tp)
    committed = {(tp.topic, tp.partition): offset for tp, offset in monitor.tp_committed_offsets.items()}
    read = {(tp.topic, tp.partition): offset for tp, offset in monitor.tp_read_offsets.items()}
    return health.lag_by_partition([(tp.topic, tp.partition) for tp in assigned], ends, committed, read)


class LagCollector(Collector):
    """`herald_consumer_lag{topic,partition}`, computed when `/metrics` is scraped."""

    def __init__(self, lag: Callable[[], Mapping[str, int]]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "herald_consumer_lag",
            "Records behind on a partition the worker reads.",
            labels=["topic", "partition"],
        )
        for where, behind in sorted(self._lag().items()):
            topic, _, partition = where.rstrip("]").rpartition("[")
            gauge.add_metric([topic, partition], behind)
        yield gauge
