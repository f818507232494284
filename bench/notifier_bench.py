"""notifier throughput and alert latency to loopback receivers (issue 12, "Must show").

What it does (a couple of minutes for the defaults on 2 cores):
1. a Kafka broker: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker in a temp
   state dir, stopped after (`bench/harness.py`);
2. three loopback receivers of the tests, each recording when every delivery arrived: a Slack
   incoming webhook and a signed generic webhook (`tests/fakes/webhook.py`, aiohttp) and an SMTP
   server (`tests/fakes/smtp.py`, aiosmtpd) — three targets, so each alert is three deliveries;
3. one real notifier process (`python -m services.notifier`) in a fresh topic namespace, with a
   targets file naming the three (the e-mail one internal, multipart text + HTML);
4. `--rounds` rounds (default 3), each a *burst*: `--alerts` PostPublished (default 300, each with
   its own title token) sent at once to herald.posts; figures per round: deliveries/s and alerts/s
   (an alert counts once all three targets have it) from the first send to the last receipt, the
   latency of every delivery from its source event's `time` (set when the event is made, just
   before the send) to the receiver's receipt — queueing behind the burst included — and the
   notifier process's CPU time (user + system, /proc) per alert;
5. *paced*: `--paced` more alerts (default 60) sent one by one at `--rate` alerts/s (default 10):
   the latency of an idle notifier;
6. checks that every target got every alert exactly once; prints each round, their median, the
   paced phase, the machine's core count and load, and one JSON line (`{"bench": "notifier", …}`);
   stops the notifier and the receivers (and the broker if it started it) and deletes the topics.

Run from the repository root: `python bench/notifier_bench.py [--alerts N] [--rounds N] [--paced N]`.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (str(REPO), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import ROUNDS, console, kafka_bootstrap, median  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.envelope import CloudEvent  # noqa: E402
from shared.events import PostPublished  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import POSTS  # noqa: E402
from tests.fakes.smtp import FakeSMTP  # noqa: E402
from tests.fakes.webhook import FakeWebhook  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

TOKEN = re.compile(r"bench-[a-z0-9]+-\d+")
TARGETS = ("slack", "webhook", "email")


def post(token: str) -> PostPublished:
    return PostPublished(
        item_id=token,
        channel="x",
        account="corporate",
        post_id=token,
        post_url=f"https://x.example/devoncc/status/{token}",
        text=f"Road closures this week https://council.example/news/{token}",
        title=f"Road closures {token}",
        link=f"https://council.example/news/{token}",
        dry_run=False,
        published_at=datetime.now(UTC),
    )


def receipts(web: FakeWebhook, smtp: FakeSMTP) -> dict[str, dict[str, list[float]]]:
    """target → title token → when each delivery of it arrived (epoch seconds)."""
    found: dict[str, dict[str, list[float]]] = {name: {} for name in TARGETS}
    for request in list(web.requests):
        match = TOKEN.search(request.raw.decode(errors="replace"))
        if match:
            found[request.path.strip("/")].setdefault(match.group(0), []).append(request.at)
    for message, at in zip(list(smtp.messages), list(smtp.arrivals), strict=False):
        match = TOKEN.search(str(message["Subject"]))
        if match:
            found["email"].setdefault(match.group(0), []).append(at)
    return found


async def wait_for(
    web: FakeWebhook, smtp: FakeSMTP, tokens: set[str], timeout: float
) -> dict[str, dict[str, list[float]]]:
    deadline = time.monotonic() + timeout
    while True:
        seen = receipts(web, smtp)
        if all(tokens <= seen[name].keys() for name in TARGETS):
            return seen
        if time.monotonic() > deadline:
            got = {name: len(tokens & seen[name].keys()) for name in TARGETS}
            raise SystemExit(f"not every alert arrived within {timeout:.0f}s: {got} of {len(tokens)}")
        await asyncio.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def figures(
    sent: dict[str, CloudEvent], seen: dict[str, dict[str, list[float]]], t0: float
) -> dict[str, Any]:
    latencies = [
        (seen[name][token][0] - envelope.time.timestamp()) * 1000
        for token, envelope in sent.items()
        for name in TARGETS
    ]
    last = max(seen[name][token][0] for token in sent for name in TARGETS)
    seconds = last - t0
    return {
        "alerts": len(sent),
        "seconds": round(seconds, 2),
        "alerts_per_s": round(len(sent) / seconds, 1),
        "deliveries_per_s": round(len(sent) * len(TARGETS) / seconds, 1),
        "latency_ms_p50": round(pct(latencies, 50), 1),
        "latency_ms_p99": round(pct(latencies, 99), 1),
        "latency_ms_max": round(max(latencies), 1),
        "latency_ms_mean": round(statistics.fmean(latencies), 1),
    }


def targets_file(path: Path, web: FakeWebhook, smtp: FakeSMTP) -> dict[str, str]:
    base = f"http://127.0.0.1:{web.port}"
    retry = {"first_delay": 0.2, "max_delay": 1.0, "give_up_after": 3600, "timeout": 5}
    targets = [
        {"name": "slack", "kind": "slack", "url": {"env": "BENCH_SLACK_URL"}},
        {
            "name": "webhook",
            "kind": "webhook",
            "url": {"env": "BENCH_WEBHOOK_URL"},
            "signing_secret": {"env": "BENCH_WEBHOOK_SECRET"},
        },
        {
            "name": "email",
            "kind": "email",
            "internal": True,
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "herald@council.example",
            "to": ["forum@council.example"],
        },
    ]
    # Each alert here is its own item's only post: no other channel will join it, so the wait for
    # one (`group_published`) would only add its seconds to every latency.
    path.write_text(yaml.safe_dump({"retry": retry, "group_published": 0, "targets": targets}))
    return {
        "HERALD_NOTIFIER_CONFIG": str(path),
        "BENCH_SLACK_URL": f"{base}/slack",
        "BENCH_WEBHOOK_URL": f"{base}/webhook",
        "BENCH_WEBHOOK_SECRET": "bench-secret",
    }


async def run_bench(bootstrap: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    web = FakeWebhook(any_path=True).start()
    smtp = FakeSMTP().start()
    service: ServiceProcess | None = None
    try:
        port = free_port()
        env = {
            "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HERALD_TOPIC_NAMESPACE": namespace,
            "HERALD_STATE_DIR": str(workdir / "state"),
            "HERALD_NOTIFIER_PORT": str(port),
            "HERALD_ADMIN_TOKEN": "unused-here",
            **targets_file(workdir / "notifier.yaml", web, smtp),
        }
        started = time.monotonic()
        service = ServiceProcess("notifier", env, port, workdir).start(timeout=120)
        print(f"notifier ready in {time.monotonic() - started:.1f}s", flush=True)
        assert service.process is not None
        pid = service.process.pid
        rounds: list[dict[str, Any]] = []
        async with EventProducer(bootstrap, source="/herald/bench", namespace=namespace) as producer:
            for n in range(args.rounds):
                tokens = [f"bench-r{n}-{i}" for i in range(args.alerts)]
                cpu0 = cpu_seconds(pid)
                t0 = time.time()
                envelopes = await asyncio.gather(*(producer.send(POSTS, t, post(t)) for t in tokens))
                sent = dict(zip(tokens, envelopes, strict=True))
                seen = await wait_for(web, smtp, set(tokens), timeout=max(120.0, args.alerts / 2))
                cpu = cpu_seconds(pid) - cpu0
                rounds.append(
                    {
                        **figures(sent, seen, t0),
                        "notifier_cpu_ms_per_alert": round(cpu * 1000 / len(tokens), 1),
                    }
                )
                print(f"round {n + 1}: {json.dumps(rounds[-1])}", flush=True)
            paced_tokens = [f"bench-paced-{i}" for i in range(args.paced)]
            print(f"paced: {args.paced} alerts at {args.rate:g}/s…", flush=True)
            paced_sent: dict[str, CloudEvent] = {}
            t1 = time.time()
            for i, token in enumerate(paced_tokens):
                pause = t1 + i / args.rate - time.time()
                if pause > 0:
                    await asyncio.sleep(pause)  # the send schedule itself, not a wait for a result
                paced_sent[token] = await producer.send(POSTS, token, post(token))
            paced_seen = await wait_for(web, smtp, set(paced_tokens), timeout=120)
        paced = figures(paced_sent, paced_seen, t1)
        final = receipts(web, smtp)
        twice = sum(1 for name in TARGETS for arrivals in final[name].values() if len(arrivals) > 1)
    finally:
        if service is not None:
            service.stop()
        web.stop()
        smtp.stop()
        await delete_namespace(bootstrap, namespace)
    keys = [k for k in rounds[0] if k != "alerts"]
    return {
        "bench": "notifier",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "targets": list(TARGETS),
        "rounds": rounds,
        "median": {
            "alerts": rounds[0]["alerts"],
            **{k: round(median(r[k] for r in rounds), 1) for k in keys},
        },
        "paced": {**paced, "rate": args.rate},
        "delivered_twice": twice,
    }


def show(result: dict[str, Any]) -> None:
    rows = [
        ("alerts/s (all 3 targets have it)", "alerts_per_s"),
        ("deliveries/s", "deliveries_per_s"),
        ("latency p50 (event time → receipt), ms", "latency_ms_p50"),
        ("latency p99, ms", "latency_ms_p99"),
        ("latency max, ms", "latency_ms_max"),
        ("notifier CPU per alert (3 deliveries), ms", "notifier_cpu_ms_per_alert"),
    ]
    n = result["median"]["alerts"]
    table = Table(title=f"notifier → slack + webhook + SMTP on loopback ({n} alerts per burst)")
    table.add_column("")
    for i in range(len(result["rounds"])):
        table.add_column(f"burst {i + 1}", justify="right")
    table.add_column("median", justify="right")
    table.add_column(f"paced @ {result['paced']['rate']:g}/s", justify="right")
    for label, key in rows:
        cells = [str(r[key]) for r in result["rounds"]]
        table.add_row(label, *cells, str(result["median"][key]), str(result["paced"].get(key, "")))
    console().print(table)
    load = ", ".join(str(x) for x in result["load_average"])
    print(f"cores {result['cpus']}, load average {load}; delivered twice {result['delivered_twice']}")
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=300, help="alerts per burst (default 300)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"bursts (default {ROUNDS})")
    parser.add_argument("--paced", type=int, default=60, help="alerts in the paced phase (default 60)")
    parser.add_argument("--rate", type=float, default=10.0, help="paced alerts/s (default 10)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herald-notifier-bench-") as tmp, kafka_bootstrap() as bootstrap:
        result = asyncio.run(run_bench(bootstrap, args, Path(tmp)))
    show(result)
    return 1 if result["delivered_twice"] else 0


if __name__ == "__main__":
    sys.exit(main())
