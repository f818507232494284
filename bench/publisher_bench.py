"""publisher throughput and latency against the loopback X API, and where each post's time goes.

What it does (about a minute a round on 2 cores, plus the broker's start):
1. a Kafka broker: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set ("external"), else Herald's local broker
   (`herald.broker.LocalBroker`, Maven jars from the Herald cache) in a temp state dir, stopped after
   (`bench/harness.py`); the table says which, with the machine's cores and load;
2. per round: the fake X API of the tests (`tests/fakes/x_api.py`, TLS, OAuth 1.0a checked) with its
   rate-limit allowance out of reach ("limits off"), and one real publisher process
   (`python -m services.publisher`, live X mode against the fake, no config file: every feed → the
   default X account, `{title} {link}`, no spacing) in a fresh topic namespace;
3. *warm-up*: `--warmup` items (default 2000), not measured: a broker's JVM is several times slower
   in its first seconds, before its hot paths are compiled (bench/README.md);
4. *burst*: `--items` FeedItemDiscovered (default 2000) sent at once to herald.feed-items; figures:
   posts/s as X sees them (first to last call) and end to end, each item's latency from its event's
   `time` to its call's arrival at X (queueing included), the time of each step of a post
   (`herald_publisher_step_seconds` and `herald_publisher_call_seconds` from the publisher's
   /metrics, p50/p99 over the burst) and the CPU seconds per post of the publisher and the broker;
5. *paced*: `--paced` more items (default 300) sent one by one at `--rate` items/s (default 50):
   an idle publisher's latency;
6. checks every item reached X exactly once; `--rounds` rounds (default 3), each printed, then their
   median and one JSON line (`{"bench": "publisher", ...}`).

Run from the repository root: `python bench/publisher_bench.py [--items N] [--paced N] [--rate R]
[--rounds R] [--warmup N]`.
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

import httpx  # noqa: E402
from harness import ROUNDS, console, kafka_bootstrap, median  # noqa: E402
from machine import broker_pid, cpu_seconds, machine, quantile  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.events import FeedItemDiscovered  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import FEED_ITEMS  # noqa: E402
from tests.support.metrics import samples  # noqa: E402
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
    for text, at in fake.received.copy().items():  # copied at once: the fake adds to it meanwhile
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

        if args.warmup:
            warm = make_items(args.warmup, tag="warmup")
            await produce(bootstrap, namespace, warm, at_once=True)
            await wait_for_calls(fake, {i.link or "" for i in warm}, timeout=max(120.0, args.warmup / 5))

        # Burst: everything at once, the publisher drains the backlog as fast as it can.
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        before = await scrape(metrics_url)
        pids = {"publisher": service.process.pid if service.process else None, "broker": broker_pid()}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        burst_items = make_items(args.items, tag="burst")
        t0 = time.time()
        burst_sent = await produce(bootstrap, namespace, burst_items, at_once=True)
        produced = time.time() - t0
        links = {i.link or "" for i in burst_items}
        burst_calls = await wait_for_calls(fake, links, timeout=max(120.0, args.items / 5))
        burst = phase("burst", burst_items, burst_sent, burst_calls, t0)
        await wait_for_outcomes(metrics_url, before, args.items)
        cpu = {
            name: round((cpu_seconds(pid) - cpu_before[name]) / args.items * 1000, 2)
            for name, pid in pids.items()
            if pid is not None
        }
        steps = step_times(before, await scrape(metrics_url))

        # Paced: one by one below the burst rate, so the latency is the publisher's, not a queue's.
        rate = args.rate
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
        "produce_seconds_burst": round(produced, 2),
        "burst": burst.figures(),
        "paced": {**paced.figures(), "rate": round(rate, 1)},
        "steps_ms": steps,
        "cpu_ms_per_post": cpu,
        "calls": len(fake.calls),
        "error_answers": errors,
        "posted_twice": len(twice),
    }


STEPS = ("admit", "lane_wait", "intent", "call", "result", "outcome")


async def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    async with httpx.AsyncClient(timeout=10) as http:
        return samples((await http.get(url)).text)


async def wait_for_outcomes(url: str, before: dict[str, Any], count: int, timeout: float = 60.0) -> None:
    """Until the burst's PostPublished events are all acknowledged (the last steps of its posts)."""

    def published(page: dict[str, Any]) -> float:
        return sum(
            v for labels, v in page.get("herald_posts_total", []) if labels.get("result") == "published"
        )

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if published(await scrape(url)) - published(before) >= count:
            return
        await asyncio.sleep(0.2)  # polling another process's page: no event to wait on


def step_times(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, float]]:
    """p50/p99 of each step over the burst (milliseconds), from the histograms' bucket deltas."""

    def buckets(page: dict[str, Any], step: str) -> dict[float, float]:
        name, wanted = (
            ("herald_publisher_call_seconds_bucket", {"channel": "x"})
            if step == "call"
            else ("herald_publisher_step_seconds_bucket", {"step": step})
        )
        return {
            float(labels["le"]): value
            for labels, value in page.get(name, [])
            if all(labels.get(k) == v for k, v in wanted.items())
        }

    found: dict[str, dict[str, float]] = {}
    for step in STEPS:
        start, end = buckets(before, step), buckets(after, step)
        delta = [(le, end[le] - start.get(le, 0.0)) for le in end]
        found[step] = {f"p{q}": round(quantile(delta, q / 100) * 1000, 2) for q in (50, 99)}
    return found


ROUND_FIGURES = (
    ("burst posts/s at X", lambda r: r["burst"]["posts_per_s_api"]),
    ("burst p99 ms", lambda r: r["burst"]["latency_ms_p99"]),
    ("paced p50 ms", lambda r: r["paced"]["latency_ms_p50"]),
    ("paced p99 ms", lambda r: r["paced"]["latency_ms_p99"]),
    ("publisher CPU ms/post", lambda r: r["cpu_ms_per_post"].get("publisher", 0.0)),
    ("broker CPU ms/post", lambda r: r["cpu_ms_per_post"].get("broker", 0.0)),
    ("posted twice", lambda r: r["posted_twice"]),
)


def show(result: dict[str, Any]) -> None:
    rounds = result["rounds"]
    where = result["machine"]
    table = Table(
        title=f"publisher → fake X: {result['items']} burst, {result['paced']} paced at "
        f"{result['rate']:g}/s; {where['cpus']} cores, load {where['load_1m']}, {where['broker']} broker"
    )
    table.add_column("round")
    for label, _ in ROUND_FIGURES:
        table.add_column(label, justify="right")
    for number, row in enumerate(rounds, start=1):
        table.add_row(str(number), *(f"{figure(row):g}" for _, figure in ROUND_FIGURES))
    table.add_row("median", *(f"{result['median'][label]:g}" for label, _ in ROUND_FIGURES), style="bold")
    console().print(table)
    steps = Table(title="where a burst post's time goes, ms (median of the rounds' p50 / p99)")
    steps.add_column("step")
    steps.add_column("p50", justify="right")
    steps.add_column("p99", justify="right")
    for step in STEPS:
        steps.add_row(step, *(f"{median(r['steps_ms'][step][q] for r in rounds):g}" for q in ("p50", "p99")))
    console().print(steps)
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000, help="burst size (default 2000)")
    parser.add_argument("--paced", type=int, default=300, help="items in the paced phase (default 300)")
    parser.add_argument("--rate", type=float, default=50.0, help="paced items/s (default 50)")
    parser.add_argument(
        "--warmup", type=int, default=2000, help="items sent first, not measured (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    parser.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="extra publisher environment"
    )
    args = parser.parse_args(argv)
    if args.items < 2 or args.paced < 2 or args.rate <= 0 or args.rounds < 1 or args.warmup < 0:
        parser.error("--items and --paced must be at least 2, --rate above 0, --rounds at least 1")
    broker = "external" if os.environ.get("HERALD_KAFKA_BOOTSTRAP_SERVERS") else "own"
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="herald-publisher-bench-") as tmp, kafka_bootstrap() as bootstrap:
        where = machine(broker)
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}…", file=sys.stderr, flush=True)
            workdir = Path(tmp) / f"round-{number}"
            workdir.mkdir()
            rounds.append(asyncio.run(run_bench(bootstrap, args, workdir)))
    result = {
        "bench": "publisher",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": where,
        "items": args.items,
        "paced": args.paced,
        "rate": args.rate,
        "rounds": rounds,
        "median": {label: median(figure(r) for r in rounds) for label, figure in ROUND_FIGURES},
    }
    show(result)
    return 1 if any(r["posted_twice"] for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
