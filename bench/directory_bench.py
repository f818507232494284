"""Two directory workers splitting the people by partition (ADR 14): how fast a council's import is
decided, and how long a `POST /staff/commands?wait=` takes through the worker that does not decide
that person.

What it does (about a minute a round on 2 cores, plus the broker's start):
1. a Kafka broker: `HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker in a temp
   state dir, stopped after (`bench/harness.py`);
2. per round, in a fresh topic namespace (deleted after): two real directory workers
   (`python -m services.directory`); `--people` `put_staff` commands (each with an X and a
   Mastodon account, as an import sends them) produced at once to herald.directory.commands, timed
   from the first send to the last outcome read back on herald.directory.events; then `--posts`
   `add_account` commands (each a new handle, so each claimed on the claims log), one at a time,
   each through the `POST ?wait=` of the worker that does *not* decide that person (its answer
   comes from the other worker through Kafka), each timed;
3. `--rounds` rounds (default 3); prints a table of each round and their median, then one JSON
   line (`{"bench": "directory", ...}`).

Run from the repository root: `python bench/directory_bench.py [--people N] [--posts N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (str(REPO), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from harness import ROUNDS, console, kafka_bootstrap, median  # noqa: E402
from rich.table import Table  # noqa: E402

from shared.events import StaffCommand  # noqa: E402
from shared.events.directory import AccountSpec  # noqa: E402
from shared.kafka_admin import delete_namespace, ensure_topics  # noqa: E402
from shared.producer import EventProducer  # noqa: E402
from shared.topics import DIRECTORY_COMMANDS, DIRECTORY_EVENTS  # noqa: E402
from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import ServiceProcess  # noqa: E402

TOKEN = "bench-token"
OUTCOME_SECONDS = 120.0  # longest wait for the import's outcomes
FIGURES = ("import_s", "import_per_s", "post_p50_ms", "post_p99_ms")


def person(n: int) -> StaffCommand:
    return StaffCommand(
        request_id=f"import-{n}",
        action="put_staff",
        staff_id=f"staff-{n:04d}",
        name=f"Person {n}",
        role="Officer",
        department="Communications",
        email=f"person.{n}@staff.council.example",
        accounts=(
            AccountSpec(platform="x", handle=f"person_{n}", status="active"),
            AccountSpec(platform="mastodon", handle=f"@person{n}@social.council.example", status="active"),
        ),
        requested_by="import:bench",
    )


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def one_round(bootstrap: str, people: int, posts: int, workdir: Path) -> dict[str, float]:
    namespace = f"bench{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    workers: list[ServiceProcess] = []
    consumer = AIOKafkaConsumer(
        namespace + DIRECTORY_EVENTS.name, bootstrap_servers=bootstrap, auto_offset_reset="latest"
    )
    try:
        for index in range(2):
            port = free_port()
            env = {
                "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "HERALD_TOPIC_NAMESPACE": namespace,
                "HERALD_STATE_DIR": str(workdir / f"w{index}"),
                "HERALD_DIRECTORY_PORT": str(port),
                "HERALD_ADMIN_TOKEN": TOKEN,
            }
            workers.append(ServiceProcess("directory", env, port, workdir))
        for worker in workers:
            await asyncio.to_thread(worker.start)
        await consumer.start()
        await consumer.getmany(timeout_ms=500)  # positioned at the end before anything is sent
        commands = [person(n) for n in range(people)]
        wanted = {c.request_id for c in commands}
        started = time.perf_counter()
        async with EventProducer(bootstrap, source="/herald/bench", namespace=namespace) as producer:
            await asyncio.gather(*(producer.send(DIRECTORY_COMMANDS, c.staff_id, c) for c in commands))
        await _await_outcomes(consumer, wanted)
        import_s = time.perf_counter() - started
        async with httpx.AsyncClient(timeout=40) as http:
            deciders = await _deciders(http, workers)
            latencies = []
            for n in range(posts):
                command = StaffCommand(
                    request_id=f"post-{n}",
                    action="add_account",
                    staff_id=f"staff-{n % people:04d}",
                    platform="bluesky",
                    handle=f"person{n}.bsky.social",
                )
                partition = DIRECTORY_COMMANDS.partition_for(command.staff_id.encode())
                other = next(w for w in workers if partition not in deciders[w.port])
                began = time.perf_counter()
                response = await http.post(
                    f"http://127.0.0.1:{other.port}/staff/commands",
                    params={"wait": "30"},
                    content=command.model_dump_json(),
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                latencies.append((time.perf_counter() - began) * 1000)
                if response.status_code != 200 or response.json().get("outcome") != "changed":
                    raise SystemExit(f"POST {n}: {response.status_code} {response.text}")
    finally:
        await consumer.stop()
        for worker in workers:
            worker.stop()
        await delete_namespace(bootstrap, namespace)
    return {
        "import_s": round(import_s, 2),
        "import_per_s": round(people / import_s, 1),
        "post_p50_ms": round(percentile(latencies, 50), 1) if latencies else 0.0,
        "post_p99_ms": round(percentile(latencies, 99), 1) if latencies else 0.0,
    }


async def _await_outcomes(consumer: AIOKafkaConsumer, wanted: set[str]) -> None:
    deadline = time.monotonic() + OUTCOME_SECONDS
    missing = set(wanted)
    while missing and time.monotonic() < deadline:
        for records in (await consumer.getmany(timeout_ms=500)).values():
            for record in records:
                missing.discard(json.loads(record.value)["data"].get("request_id"))
    if missing:
        raise SystemExit(
            f"{len(missing)} of {len(wanted)} imported people not decided in {OUTCOME_SECONDS:.0f}s"
        )


async def _deciders(http: httpx.AsyncClient, workers: list[ServiceProcess]) -> dict[int, set[int]]:
    """Each worker's port → the commands partitions it decides (its /health says)."""
    found: dict[int, set[int]] = {}
    for worker in workers:
        said = str((await http.get(f"http://127.0.0.1:{worker.port}/health")).json().get("deciding", "no"))
        found[worker.port] = {int(p) for p in said.split(",") if p.isdigit()}
    if any(not partitions for partitions in found.values()):
        raise SystemExit(f"a worker decides nobody: {found}")
    return found


def show(result: dict[str, Any]) -> None:
    table = Table(
        title=f"directory: {result['people']} people imported at once, then {result['posts']} POST ?wait= "
        f"through the worker that does not decide that person (two workers, {len(result['rounds'])} rounds)"
    )
    table.add_column("round")
    for name in FIGURES:
        table.add_column(name, justify="right")
    for number, row in enumerate(result["rounds"], start=1):
        table.add_row(str(number), *(f"{row[name]:g}" for name in FIGURES))
    table.add_row("median", *(f"{result['median'][name]:g}" for name in FIGURES), style="bold")
    console().print(table)
    print(json.dumps(result))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500, help="people imported per round (default 500)")
    parser.add_argument("--posts", type=int, default=50, help="POST ?wait= per round (default 50)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds (default {ROUNDS})")
    args = parser.parse_args(argv)
    if args.people < 1 or args.posts < 0 or args.rounds < 1:
        parser.error("--people and --rounds must be at least 1, --posts at least 0")
    rounds: list[dict[str, float]] = []
    with kafka_bootstrap() as bootstrap, tempfile.TemporaryDirectory(prefix="herald-directory-bench-") as tmp:
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds}…", file=sys.stderr)
            workdir = Path(tmp) / f"round-{number}"
            workdir.mkdir()
            rounds.append(asyncio.run(one_round(bootstrap, args.people, args.posts, workdir)))
    result = {
        "bench": "directory",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "broker": "external" if os.environ.get("HERALD_KAFKA_BOOTSTRAP_SERVERS") else "local",
        "people": args.people,
        "posts": args.posts,
        "rounds": rounds,
        "median": {name: round(median(row[name] for row in rounds), 2) for name in FIGURES},
    }
    show(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
