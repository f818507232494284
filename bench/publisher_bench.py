"""publisher throughput and latency against the loopback X API (issue 4, "Must show").

What it does (well under a minute for the defaults on 2 cores):
1. a Kafka broker: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker
   (`herald.broker.LocalBroker`, Maven jars from the Herald cache) in a temp state dir, stopped after
   (`bench/harness.py`);
2. the fake X API of the tests (`tests/fakes/x_api.py`, TLS, OAuth 1.0a checked) with its
   rate-limit allowance out of reach ("limits off"), recording when each call arrived;
3. one real publisher process (`python -m services.publisher`, live X mode against the fake, no
   config file: every feed → the default X account, `{title} {link}`, no spacing) in a fresh
   topic namespace;
4. *burst*: `--items` FeedItemDiscovered (default 2000) sent at once to herald.feed-items while the
   publisher runs; figures: posts/s as X sees them (first to last call) and end to end (from the
   first send to the last call), and the latency of each item from its event's `time` (set when
   the event is made, just before the send) to the call's arrival at X — queueing included;
5. *paced*: `--paced` more items (default 300) sent one by one at `--rate` items/s (default: half
   the burst rate, so the publisher keeps up); its p50/p99 is the latency of an idle publisher;
6. checks that every item reached X exactly once; prints a table and one JSON line
   (`{"bench": "publisher", ...}`); stops the publisher, the fake and the broker (if it started
   it) and deletes the namespace's topics.

Run from the repository root: `python bench/publisher_bench.py [--items N] [--paced N] [--rate R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (str(REPO), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import console, kafka_bootstrap  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.events import FeedItemDiscovered  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import FEED_ITEMS  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.publisher_harness import (  # noqa: E402
    LINK_BASE,
    KillSwitchX,
    PublisherProcess,
    live_x_env,
    make_items,
    produce,
)

LINK_RE = re.compile(re.escape(LINK_BASE) + r"\S+")


@dataclass
class Phase:
    """One phase's figures (seconds, items/s; latencies in milliseconds)."""

    name: str
    items: int
    seconds_api: float
    seconds_end_to_end: float
    latencies_ms: list[float]

    @property
    def posts_per_s_api(self) -> float:
        return (self.items - 1) / self.seconds_api if self.seconds_api > 0 else 0.0

    @property
    def posts_per_s_end_to_end(self) -> float:
        return self.items / self.seconds_end_to_end if self.seconds_end_to_end > 0 else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    def figures(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "posts_per_s_api": round(self.posts_per_s_api, 1),
            "posts_per_s_end_to_end": round(self.posts_per_s_end_to_end, 1),
            "latency_ms_p50": round(self.pct(50), 1),
            "latency_ms_p99": round(self.pct(99), 1),
            "latency_ms_max": round(max(self.latencies_ms), 1),
            "latency_ms_mean": round(statistics.fmean(self.latencies_ms), 1),
        }


def arrivals(fake: KillSwitchX) -> dict[str, float]:
    """Item link → when its first call reached X (epoch seconds)."""
    found: dict[str, float] = {}
    for text, at in list(fake.received.items()):
        match = LINK_RE.search(text)
        if match:
            found.setdefault(match.group(0), at)
    return found


async def wait_for_calls(fake: KillSwitchX, links: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        seen = arrivals(fake)
        if links <= seen.keys():
            return {link: seen[link] for link in links}
        if time.monotonic() > deadline:
            raise SystemExit(
                f"only {len(links & seen.keys())} of {len(links)} items reached X within {timeout:.0f}s"
            )
        await asyncio.sleep(0.1)


def phase(
    name: str, items: list[FeedItemDiscovered], sent: dict[str, Any], calls: dict[str, float], t0: float
) -> Phase:
    latencies = [(calls[i.link or ""] - sent[i.item_id].time.timestamp()) * 1000 for i in items]
    first, last = min(calls.values()), max(calls.values())
    return Phase(name, len(items), last - first, last - t0, latencies)


async def run_bench(bootstrap: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    state_dir = workdir / "state"
    state_dir.mkdir()
    extra = dict(pair.split("=", 1) for pair in args.env)
    fake = KillSwitchX(workdir).start()
    service: PublisherProcess | None = None
    try:
        port = free_port()
        env = live_x_env(bootstrap, namespace, state_dir, port, fake, **extra)
        started = time.monotonic()
        service = PublisherProcess(env, port, workdir).start(timeout=120)
        print(
            f"publisher ready in {time.monotonic() - started:.1f}s; burst of {args.items} items…", flush=True
        )

        # Burst: everything at once, the publisher drains the backlog as fast as it can.
        burst_items = make_items(args.items, tag="burst")
        t0 = time.time()
        burst_sent = await produce(bootstrap, namespace, burst_items, at_once=True)
        produced = time.time() - t0
        links = {i.link or "" for i in burst_items}
        burst_calls = await wait_for_calls(fake, links, timeout=max(120.0, args.items / 5))
        burst = phase("burst", burst_items, burst_sent, burst_calls, t0)

        # Paced: one by one below the burst rate, so the latency is the publisher's, not a queue's.
        rate = args.rate or max(1.0, burst.posts_per_s_api / 2)
        paced_items = make_items(args.paced, tag="paced")
        print(f"paced: {args.paced} items at {rate:.0f}/s…", flush=True)
        paced_sent: dict[str, Any] = {}
        t1 = time.time()
        async with EventProducer(bootstrap, source="/herald/bench", namespace=namespace) as producer:
            for n, item in enumerate(paced_items):
                pause = t1 + n / rate - time.time()
                if pause > 0:
                    await asyncio.sleep(pause)  # the send schedule itself, not a wait for a result
                paced_sent[item.item_id] = await producer.send(FEED_ITEMS, item.item_id, item)
        paced_calls = await wait_for_calls(fake, {i.link or "" for i in paced_items}, timeout=120)
        paced = phase("paced", paced_items, paced_sent, paced_calls, t1)

        # Exactly once: one accepted post and one call per item.
        per_link: dict[str, int] = {}
        for call in list(fake.calls):
            match = LINK_RE.search(call.text or "")
            if match:
                per_link[match.group(0)] = per_link.get(match.group(0), 0) + 1
        twice = sorted(link for link, n in per_link.items() if n > 1)
        errors = sum(1 for call in list(fake.calls) if call.status >= 400)
    finally:
        if service is not None:
            service.stop()
        fake.stop()
        await delete_namespace(bootstrap, namespace)
    return {
        "bench": "publisher",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "produce_seconds_burst": round(produced, 2),
        "burst": burst.figures(),
        "paced": {**paced.figures(), "rate": round(rate, 1)},
        "calls": len(fake.calls),
        "error_answers": errors,
        "posted_twice": len(twice),
    }


def show(result: dict[str, Any]) -> None:
    rows = [
        ("posts/s at X (first→last call)", "posts_per_s_api"),
        ("posts/s end to end (first send→last call)", "posts_per_s_end_to_end"),
        ("latency p50 (event time → X call), ms", "latency_ms_p50"),
        ("latency p99, ms", "latency_ms_p99"),
        ("latency max, ms", "latency_ms_max"),
    ]
    table = Table(
        title=f"publisher → fake X ({result['burst']['items']} burst, {result['paced']['items']} paced)"
    )
    table.add_column("")
    table.add_column("burst", justify="right")
    table.add_column(f"paced @ {result['paced']['rate']}/s", justify="right")
    for label, key in rows:
        table.add_row(label, str(result["burst"][key]), str(result["paced"][key]))
    console().print(table)
    counts = f"calls {result['calls']}, error answers {result['error_answers']}"
    print(f"{counts}, posted twice {result['posted_twice']}")
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="burst size (default 2000)")
    parser.add_argument("--paced", type=int, default=300, help="items in the paced phase (default 300)")
    parser.add_argument(
        "--rate", type=float, default=None, help="paced items/s (default: half the burst rate)"
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra publisher environment"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herald-publisher-bench-") as tmp, kafka_bootstrap() as bootstrap:
        result = asyncio.run(run_bench(bootstrap, args, Path(tmp)))
    show(result)
    return 1 if result["posted_twice"] else 0


if __name__ == "__main__":
    sys.exit(main())
