"""feed_ingest throughput against lemon24/reader on the same corpus (issue 5, "Must show").

What it does, in one run (about 2 minutes a round on 2 cores):
1. writes a corpus of 1,000 RSS feeds × 20 items (~13 KB each, `bench/corpus.py`) and serves it
   with Debian's nginx on loopback (`bench/nginx.py`; ETag/Last-Modified give 304s for free),
   spread over a few loopback addresses (127.0.0.1…N) like feeds spread over council hosts;
2. Herald: real `python -m services.feed_ingest` worker processes (mode "worker", the default)
   against a real Kafka broker, in a topic namespace of their own. 1,000 `FeedSubscribed` events
   (backfill=20, so every feed's first poll announces all its 20 items; interval 1 h, so each
   feed is polled once per pass) go to herald.feeds; the bench reads each poll's outcome
   (`FeedPolled` on herald.ops.feed-health, sent once the state it reflects is stored) and
   herald.feed-items back from Kafka:
   - pass "all-new": from sending the subscriptions until every feed's poll says "ok" and all
     20,000 FeedItemDiscovered events are on herald.feed-items (acks=all);
   - pass "unchanged": `herald feeds poll --all` (a refresh request on each partition of the
     poll-request topic: its owner polls every feed it holds there now, as reader's
     update_feeds(scheduled=False) does); from the requests until every feed's poll says
     "not_modified" (conditional GET → 304). Both passes are end to end, Kafka in and out.
   Mode "pipeline" instead drives fetch → parse → decide → produce in this process (no faust
   scheduling, one process) — a bound on what the worker can reach, not a substitute for it;
3. the peer: lemon24/reader `update_feeds(workers=4, scheduled=False)` twice on the same URLs;
   steps 2 and 3 are one round; `--rounds` (default 3) repeats them, alternating which side goes
   first, and the table shows each side's median round and the median of the rounds' ratios (this
   machine's speed drifts by ±25 % within minutes: one pair of runs can favour either side);
4. parser cost per core on the same bodies: `parse_feed` as shipped (lxml fast path for plain
   RSS 2.0, feedparser otherwise), feedparser alone and fastfeedparser behind the same item model.

Prints a rich table and one JSON line (`{"bench": "feed_ingest", ...}`). The broker is
`HERALD_KAFKA_BOOTSTRAP_SERVERS` if set, else Herald's local broker in a temp state dir, stopped
after (`bench/harness.py`).
Bench-only dependencies: `reader` (+ `sgmllib3k`, which reader's vendored feedparser imports)
and `fastfeedparser`; a missing one skips its part and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
for _path in (str(REPO), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from corpus import Corpus, write_corpus  # noqa: E402
from harness import ROUNDS, console, kafka_bootstrap  # noqa: E402
from nginx import Nginx, free_port  # noqa: E402

GOAL_ALL_NEW = 5.0
GOAL_UNCHANGED = 10.0


@dataclass
class PassResult:
    """One pass over the corpus: how long, and what it got through."""

    seconds: float
    feeds: int
    items: int = 0
    errors: int = 0
    note: str = ""
    #: Worker mode: first to last poll outcome on feed-health, without the subscription lead-in.
    poll_window: float | None = None
    #: Worker mode: CPU seconds the worker processes used during the pass (Linux /proc), a figure
    #: that moves less than wall time when the machine's speed does.
    worker_cpu: float | None = None

    @property
    def feeds_per_s(self) -> float:
        return self.feeds / self.seconds if self.seconds > 0 else 0.0

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "feeds": self.feeds,
            "items": self.items,
            "errors": self.errors,
            "feeds_per_s": round(self.feeds_per_s, 1),
            "items_per_s": round(self.items_per_s, 1),
            **(
                {
                    "poll_window_seconds": round(self.poll_window, 3),
                    "poll_window_feeds_per_s": round(self.feeds / self.poll_window, 1),
                }
                if self.poll_window
                else {}
            ),
            **(
                {"worker_cpu_ms_per_feed": round(1000 * self.worker_cpu / self.feeds, 3)}
                if self.worker_cpu and self.feeds
                else {}
            ),
        }


@dataclass
class Report:
    """Every round's passes, and the figures a reader of the table wants: per pass the median
    round of each side, and the median of the rounds' ratios (each round pairs one Herald run
    with one reader run made next to it, so a machine whose speed drifts moves both)."""

    corpus: dict[str, Any]
    herald_mode: str
    herald_rounds: list[dict[str, PassResult]] = field(default_factory=list)
    reader_rounds: list[dict[str, PassResult]] = field(default_factory=list)
    parsers: dict[str, float] = field(default_factory=dict)  # name → feeds/s on one core
    parsers_agree: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def herald(self) -> dict[str, PassResult]:
        return _median_round(self.herald_rounds)

    @property
    def reader(self) -> dict[str, PassResult]:
        return _median_round(self.reader_rounds)

    def round_ratios(self, name: str) -> list[float]:
        """Herald ÷ reader feeds/s, round by round (rounds where both sides ran the pass)."""
        ratios = []
        for ours, theirs in zip(self.herald_rounds, self.reader_rounds, strict=False):
            mine, peer = ours.get(name), theirs.get(name)
            if mine and peer and peer.feeds_per_s:
                ratios.append(mine.feeds_per_s / peer.feeds_per_s)
        return ratios

    def ratio(self, name: str) -> float | None:
        ratios = self.round_ratios(name)
        return statistics.median(ratios) if ratios else None


def _median_round(rounds: list[dict[str, PassResult]]) -> dict[str, PassResult]:
    """Per pass, the result of the round with the median feeds/s (the lower middle one when the
    count is even): a real run's figures, not a blend of several."""
    median: dict[str, PassResult] = {}
    for name in ("all_new", "unchanged"):
        results = sorted((r[name] for r in rounds if name in r), key=lambda result: result.feeds_per_s)
        if results:
            median[name] = results[(len(results) - 1) // 2]
    return median


# --- Kafka ------------------------------------------------------------------------------------
class KafkaWatch:
    """Reads each feed's poll outcome from herald.ops.feed-health (FeedPolled, sent once the
    poll's item events are acknowledged and its state stored), and the item events after a pass.

    While a pass runs it only asks the broker for the topic's end offsets (every 10 ms) and
    decodes nothing until enough new records are there to finish the pass: decoding thousands of
    records while the clock runs took CPU from the workers being measured. A pass ends when this
    watcher *sees* the last outcome on the broker (`wait` returns that moment)."""

    def __init__(self, bootstrap: str, items_topic: str, health_topic: str) -> None:
        self.bootstrap = bootstrap
        self.items_topic = items_topic
        self.health_topic = health_topic
        self.outcome_at: dict[str, dict[str, float]] = {"ok": {}, "not_modified": {}, "error": {}}
        self.errors: dict[str, str] = {}  # feed id → the last error reason
        self.partition_of: dict[str, int] = {}  # feed id → its partition (= which worker polls it)
        self.items = 0
        self.item_ids: set[str] = set()
        self.last_item_ts = 0.0
        self._consumer: Any = None
        self._partitions: list[Any] = []
        self._read = 0  # health records decoded so far

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await self._consumer.start()
        await self._consumer._client.force_metadata_update()
        partitions = self._consumer.partitions_for_topic(self.health_topic) or {0}
        self._partitions = [TopicPartition(self.health_topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_beginning(*self._partitions)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()

    async def _decode_to(self, ends: dict[Any, int]) -> None:
        """Decode the health records up to `ends` (offsets the broker has)."""
        consumer = self._consumer
        while any([await consumer.position(tp) < end for tp, end in ends.items()]):
            batches = await consumer.getmany(*ends, timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    self._read += 1
                    self._on_health(record)

    async def wait(self, outstanding: Callable[[], int], timeout: float, what: str) -> float | None:
        """Wait until `outstanding()` (outcomes still missing) is 0; return when that was seen
        (time.time()), or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = outstanding()
            if missing <= 0:
                return time.time()
            ends = await self._consumer.end_offsets(self._partitions)
            seen = time.time()
            if sum(ends.values()) - self._read >= missing:
                await self._decode_to(ends)
                if outstanding() <= 0:
                    return seen
            await asyncio.sleep(0.01)
        print(f"  ! timed out after {timeout:.0f}s waiting for {what}", file=sys.stderr)
        return None

    def _on_health(self, record: Any) -> None:
        if dict(record.headers or ()).get("ce_type") != b"herald.feed.polled.v1":
            return
        try:
            data = json.loads(record.value)["data"]
        except (ValueError, KeyError, TypeError):
            return
        outcome, feed_id = data.get("outcome"), data.get("feed_id")
        if outcome in self.outcome_at and isinstance(feed_id, str):
            self.outcome_at[outcome].setdefault(feed_id, record.timestamp / 1000)
            self.partition_of[feed_id] = record.partition
            if outcome == "error":
                self.errors[feed_id] = data.get("error") or "?"

    async def read_items(self) -> None:
        """Every record on herald.feed-items so far (to its end offsets now): count, distinct
        item ids, and the latest record timestamp."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.items_topic) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(self.items_topic) or set()
            assigned = [TopicPartition(self.items_topic, p) for p in partitions]
            self.items, self.item_ids, self.last_item_ts = 0, set(), 0.0
            if not assigned:  # the topic is not in the metadata: nothing to count (the pass says so)
                return
            consumer.assign(assigned)
            await consumer.seek_to_beginning(*assigned)
            ends = await consumer.end_offsets(assigned)

            async def behind() -> bool:
                return any([await consumer.position(tp) < ends[tp] for tp in assigned])

            while await behind():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        self.items += 1
                        self.item_ids.add((record.key or b"").decode())
                        self.last_item_ts = max(self.last_item_ts, record.timestamp / 1000)
        finally:
            await consumer.stop()


# --- Herald: the real worker ------------------------------------------------------------------
class Workers:
    """N feed_ingest worker processes sharing one topic namespace (one consumer group)."""

    def __init__(self, count: int, env: dict[str, str], log_dir: Path) -> None:
        self.count = count
        self.env = env
        self.log_dir = log_dir
        self.processes: list[tuple[subprocess.Popen[bytes], int, Path]] = []

    def start(self, timeout: float = 90.0) -> None:
        for index in range(self.count):
            port = free_port()
            log_path = self.log_dir / f"feed_ingest-{index}.log"
            env = {
                **os.environ,
                **self.env,
                "HERALD_FEED_INGEST_PORT": str(port),
                "HERALD_INSTANCE_ID": f"bench-{index}",
                "HERALD_STATE_DIR": str(self.log_dir / f"state-{index}"),
                "PYTHONUNBUFFERED": "1",
            }
            with log_path.open("ab") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "services.feed_ingest"],
                    cwd=REPO,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.processes.append((process, port, log_path))
            print(f"  worker {index}: pid {process.pid}, log {log_path}", file=sys.stderr)
        deadline = time.monotonic() + timeout
        for process, port, log_path in self.processes:
            while not _healthy(port):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"feed_ingest worker did not become ready:\n{_tail(log_path)}")
                time.sleep(0.2)

    def stop(self) -> None:
        for process, _, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, _, _ in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def logs(self) -> str:
        return "\n".join(_tail(path, 15) for _, _, path in self.processes)

    def partitions(self) -> list[list[int]]:
        """Each worker's partitions of herald.feeds now (from its `/feeds/owned`)."""
        owned = []
        for _, port, _ in self.processes:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/feeds/owned", timeout=5) as response:
                    owned.append(json.loads(response.read())["partitions"])
            except (OSError, ValueError, KeyError):
                owned.append([])
        return owned

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of all worker processes so far (None where /proc is missing)."""
        total = 0.0
        for process, _, _ in self.processes:
            try:
                fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return None
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total


def _partition_spans(watch: KafkaWatch, stamps: dict[str, float], started: float) -> str:
    """Per partition (so per worker): feeds, and first → last outcome in seconds from the start;
    shows how evenly the pass was shared and how long its tail ran on one worker."""
    spans: dict[int, list[float]] = {}
    for feed_id, stamp in stamps.items():
        spans.setdefault(watch.partition_of.get(feed_id, -1), []).append(stamp - started)
    return ", ".join(
        f"p{partition}: {len(times)} feeds {min(times):.2f}→{max(times):.2f}s"
        for partition, times in sorted(spans.items())
    )


def _spent(before: float | None, after: float | None) -> float | None:
    return after - before if before is not None and after is not None else None


def _window(stamps: Any) -> float | None:
    values = list(stamps)
    return max(values) - min(values) if len(values) > 1 else None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


async def herald_worker(
    urls: Sequence[str],
    items_per_feed: int,
    bootstrap: str,
    *,
    workers: int,
    work_dir: Path,
    timeout: float,
    extra_env: dict[str, str],
    pause: float = 0.0,
) -> dict[str, PassResult]:
    from aiokafka import AIOKafkaProducer

    from services.feed_ingest.state import PollRequest
    from shared.envelope import wrap
    from shared.events import FeedSubscribed
    from shared.ids import feed_id_for
    from shared.kafka_admin import delete_namespace, ensure_topics
    from shared.producer import record_headers
    from shared.topics import FEED_HEALTH, FEED_ITEMS, FEED_POLLS, FEEDS

    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, namespace=namespace)
    env = {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_ALLOW_PRIVATE_NETWORKS": "1",  # the corpus is on loopback
        "HERALD_POLL_TICK_SECONDS": "0.2",
        "HERALD_HEARTBEAT_INTERVAL_SECONDS": "60",
        **extra_env,
    }
    pool = Workers(workers, env, work_dir)
    results: dict[str, PassResult] = {}
    print(f"  starting {workers} feed_ingest worker(s) in namespace {namespace} …", file=sys.stderr)
    watch = KafkaWatch(
        bootstrap,
        namespace + FEED_ITEMS.name,
        namespace + FEED_HEALTH.name,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    # The refresh requests go out as `herald feeds poll --all` sends them (EventProducer: no linger).
    requester = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        pool.start()
        if workers > 1:
            await asyncio.sleep(3)  # let the group settle on its partitions before the clock starts
        await watch.start()
        await producer.start()
        await requester.start()
        feed_ids = [feed_id_for(url) for url in urls]
        total = len(urls)

        def records(make: Callable[[str, str], Any]) -> list[tuple[bytes, bytes, Any]]:
            """(key, value, headers) of one event per feed, built before a pass's clock starts."""
            out = []
            for url, feed_id in zip(urls, feed_ids, strict=True):
                envelope = wrap(make(url, feed_id), source="/herald/bench")
                out.append((feed_id.encode(), envelope.to_bytes(), record_headers(envelope)))
            return out

        async def send_all(prepared: list[tuple[bytes, bytes, Any]]) -> None:
            futures = [
                await producer.send(namespace + FEEDS.name, value, key=key, headers=headers)
                for key, value, headers in prepared
            ]
            await asyncio.gather(*futures)

        def subscribed(url: str, feed_id: str) -> FeedSubscribed:
            return FeedSubscribed(
                feed_id=feed_id,
                url=url,
                interval_seconds=3600,
                backfill=items_per_feed,
                subscribed_at=datetime.now(UTC),
            )

        # Pass 1: all new.
        prepared = records(subscribed)
        cpu_before = pool.cpu_seconds()
        started = time.time()
        await send_all(prepared)
        seen_done = await watch.wait(
            lambda: total - len(watch.outcome_at["ok"]) - len(watch.outcome_at["error"]),
            timeout,
            "the all-new pass",
        )
        cpu = _spent(cpu_before, pool.cpu_seconds())
        await watch.read_items()  # all on Kafka already: a poll says "ok" once its items are acked
        ok = watch.outcome_at["ok"]
        print(
            f"  all-new pass by partition: {_partition_spans(watch, ok, started)}; "
            f"workers' partitions {pool.partitions()}",
            file=sys.stderr,
        )
        end = seen_done or max([*ok.values(), watch.last_item_ts, started])
        results["all_new"] = PassResult(
            end - started,
            len(ok),
            items=len(watch.item_ids),
            errors=len(watch.outcome_at["error"]),
            note="" if seen_done else "incomplete (timed out)",
            poll_window=_window(ok.values()),
            worker_cpu=cpu,
        )
        if watch.items != len(watch.item_ids):
            results["all_new"].note += f" {watch.items - len(watch.item_ids)} duplicate item events"

        # Pass 2: unchanged. `herald feeds poll --all`: a refresh request on each partition of the
        # poll-request topic, whose owner polls every feed it holds there (reader's
        # update_feeds(scheduled=False)); every poll is a conditional GET answered 304.
        if pause:
            pids = " ".join(str(process.pid) for process, _, _ in pool.processes)
            print(f"  unchanged pass in {pause:g}s (worker pids {pids})", file=sys.stderr, flush=True)
            await asyncio.sleep(pause)
        errors_before = len(watch.outcome_at["error"])
        refresh = PollRequest.refresh(datetime.now(UTC)).model_dump_json().encode()
        cpu_before = pool.cpu_seconds()
        started = time.time()
        await asyncio.gather(
            *[
                await requester.send(namespace + FEED_POLLS.name, refresh, partition=partition)
                for partition in range(FEED_POLLS.partitions)
            ]
        )
        seen_done = await watch.wait(
            lambda: (
                total
                - len(watch.outcome_at["not_modified"])
                - (len(watch.outcome_at["error"]) - errors_before)
            ),
            timeout,
            "the unchanged pass",
        )
        cpu = _spent(cpu_before, pool.cpu_seconds())
        not_modified = watch.outcome_at["not_modified"]
        print(
            f"  unchanged pass by partition: {_partition_spans(watch, not_modified, started)}",
            file=sys.stderr,
        )
        end = seen_done or max([*not_modified.values(), started])
        results["unchanged"] = PassResult(
            end - started,
            len(not_modified),
            errors=len(watch.outcome_at["error"]) - errors_before,
            note="" if seen_done else "incomplete (timed out)",
            poll_window=_window(not_modified.values()),
            worker_cpu=cpu,
        )
        await watch.read_items()
        if watch.items != len(watch.item_ids) or len(watch.item_ids) != results["all_new"].items:
            results["unchanged"].note += " items emitted again!"
        if watch.outcome_at["error"]:
            sample = next(iter(watch.outcome_at["error"]))
            print(f"  ! feed errors, e.g. {watch.errors.get(sample)}", file=sys.stderr)
    except Exception:
        print(pool.logs(), file=sys.stderr)
        raise
    finally:
        await producer.stop()
        await requester.stop()
        await watch.stop()
        pool.stop()
        await delete_namespace(bootstrap, namespace)  # leftovers slow every later client's start
    return results


# --- Herald: the pipeline in this process (mode "pipeline") ------------------------------------
async def herald_pipeline(
    urls: Sequence[str], items_per_feed: int, bootstrap: str, *, concurrency: int, parser: str
) -> dict[str, PassResult]:
    """fetch → parse → decide → produce (acks=all) with the worker's own functions, `concurrency`
    polls at a time, in one process: no faust agent, table or scheduler. `parser`
    "fastfeedparser" swaps `parse_feed` for `fastfeedparser_entries` (what a switch would give)."""
    from aiokafka import AIOKafkaProducer

    from services.feed_ingest.decide import decide
    from services.feed_ingest.errors import FeedError
    from services.feed_ingest.fetch import FeedFetcher
    from services.feed_ingest.parse import parse_feed
    from shared.envelope import wrap
    from shared.ids import feed_id_for
    from shared.kafka_admin import delete_namespace, ensure_topics
    from shared.producer import record_headers
    from shared.settings import HeraldSettings
    from shared.topics import FEED_ITEMS

    namespace = f"bench-{uuid.uuid4().hex[:8]}."
    await ensure_topics(bootstrap, [FEED_ITEMS], namespace=namespace)
    topic = namespace + FEED_ITEMS.name
    settings = HeraldSettings(allow_private_networks=True, kafka_bootstrap_servers=bootstrap)
    fetcher = FeedFetcher(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    state: dict[str, tuple[str | None, str | None, list[str]]] = {}
    gate = asyncio.Semaphore(concurrency)
    counts = {"feeds": 0, "items": 0, "errors": 0, "not_modified": 0}

    async def poll(url: str) -> None:
        async with gate:
            feed_id = feed_id_for(url)
            etag, last_modified, seen = state.get(url, (None, None, []))
            try:
                fetched = await fetcher.fetch(url, etag=etag, last_modified=last_modified)
                if fetched.status == "not_modified":
                    counts["not_modified"] += 1
                    return
                if parser == "fastfeedparser":
                    entries = fastfeedparser_entries(fetched.body, url=fetched.url, feed_id=feed_id)
                else:
                    parsed = parse_feed(
                        fetched.body, url=fetched.url, feed_id=feed_id, headers=fetched.headers
                    )
                    entries = list(parsed.entries)
            except FeedError:
                counts["errors"] += 1
                return
            decision = decide(seen, entries, baseline_done=bool(seen), backfill=items_per_feed)
            now = datetime.now(UTC)
            futures = []
            for entry in decision.emit:
                envelope = wrap(
                    entry.to_event(feed_id=feed_id, feed_url=url, discovered_at=now), source="/herald/bench"
                )
                futures.append(
                    await producer.send(
                        topic,
                        envelope.to_bytes(),
                        key=entry.item_id.encode(),
                        headers=record_headers(envelope),
                    )
                )
            await asyncio.gather(*futures)  # acknowledged before the state moves on
            state[url] = (fetched.etag, fetched.last_modified, decision.seen)
            counts["feeds"] += 1
            counts["items"] += len(futures)

    results: dict[str, PassResult] = {}
    try:
        for name in ("all_new", "unchanged"):
            counts.update(feeds=0, items=0, errors=0, not_modified=0)
            started = time.perf_counter()
            await asyncio.gather(*(poll(url) for url in urls))
            seconds = time.perf_counter() - started
            feeds = counts["feeds"] if name == "all_new" else counts["not_modified"]
            results[name] = PassResult(seconds, feeds, items=counts["items"], errors=counts["errors"])
    finally:
        await producer.stop()
        await fetcher.aclose()
        await delete_namespace(bootstrap, namespace)
    return results


# --- the peer: lemon24/reader -------------------------------------------------------------------
def reader_passes(urls: Sequence[str], work_dir: Path) -> dict[str, PassResult]:
    from reader import make_reader

    reader = make_reader(str(work_dir / "reader.sqlite"))
    try:
        for url in urls:
            reader.add_feed(url)
        results: dict[str, PassResult] = {}
        for name in ("all_new", "unchanged"):
            before = reader.get_entry_counts().total
            started = time.perf_counter()
            reader.update_feeds(workers=4, scheduled=False)
            seconds = time.perf_counter() - started
            after = reader.get_entry_counts().total
            errors = sum(1 for feed in reader.get_feeds() if feed.last_exception)
            results[name] = PassResult(seconds, len(urls), items=after - before, errors=errors)
        return results
    finally:
        reader.close()


# --- parsers ----------------------------------------------------------------------------------
def fastfeedparser_entries(body: bytes, *, url: str, feed_id: str) -> list[Any]:
    """fastfeedparser's output behind Herald's item model (`ParsedEntry`), with the same identity
    and text rules as `parse_feed`: what a switch of parser would produce."""
    from email.utils import parsedate_to_datetime

    import fastfeedparser

    from services.feed_ingest.identity import (
        content_hash,
        html_to_text,
        item_id_from_content,
        item_id_from_guid,
        item_id_from_link,
        normalise_link,
        trusted_guids,
    )
    from services.feed_ingest.parse import MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, ParsedEntry, _absolute, _cut

    parsed = fastfeedparser.parse(body)  # bytes: never a URL to fetch
    site_link = _absolute(parsed.feed.get("link"), url)
    entries = parsed.entries
    trust = trusted_guids([entry.get("id") for entry in entries], feed_url=url, site_link=site_link)
    result = []
    for position, (entry, trusted) in enumerate(zip(entries, trust, strict=True)):
        link = _absolute(entry.get("link"), url)
        title = _cut(html_to_text(entry.get("title") or ""), MAX_TITLE_CHARS)
        summary = _cut(html_to_text(entry.get("description") or ""), MAX_SUMMARY_CHARS)
        link_id = item_id_from_link(link) if link and normalise_link(link) else None
        if trusted:
            item_id = item_id_from_guid(entry["id"], feed_id)
        else:
            item_id = link_id or item_id_from_content(title, summary, feed_id)
        published = entry.get("published")
        when = None
        if published:
            try:
                when = datetime.fromisoformat(published).astimezone(UTC)
            except ValueError:
                with contextlib.suppress(TypeError, ValueError):
                    when = parsedate_to_datetime(published).astimezone(UTC)
        images = tuple(
            enclosure.get("url") or enclosure.get("href")
            for enclosure in entry.get("enclosures") or ()
            if str(enclosure.get("type", "")).startswith("image/")
        )
        tags = tuple(dict.fromkeys(tag.get("term") for tag in entry.get("tags") or () if tag.get("term")))
        result.append(
            ParsedEntry(
                item_id=item_id,
                identity_keys=(item_id,) if link_id in (None, item_id) else (item_id, link_id),
                title=title,
                link=link,
                summary=summary,
                author=entry.get("author") or None,
                tags=tags,
                image_urls=images,
                published=when,
                updated=None,
                content_hash=content_hash(title, link, summary),
                position=position,
            )
        )
    return result


def parser_rates(corpus: Corpus, base_url: str, *, seconds: float) -> tuple[dict[str, float], str]:
    """Feeds parsed per second on one core (this process), each parser for about `seconds`: what
    ships (`parse_feed`: lxml fast path, feedparser fallback), feedparser alone behind the same
    model (the fallback's speed), and fastfeedparser behind the same model (the candidate measured
    against the fast path). Each is checked against feedparser alone on the first 50 feeds."""
    from services.feed_ingest.parse import _parse, parse_feed
    from shared.ids import feed_id_for

    bodies = [(corpus.root / path.lstrip("/")).read_bytes() for path in corpus.paths]
    urls = corpus.urls(base_url)

    def shipped(body: bytes, url: str) -> list[Any]:
        return list(parse_feed(body, url=url, feed_id=feed_id_for(url)).entries)

    def feedparser_only(body: bytes, url: str) -> list[Any]:
        return list(_parse(body, url=url, feed_id=feed_id_for(url), headers=None, fast=False).entries)

    def herald_fastfeedparser(body: bytes, url: str) -> list[Any]:
        return fastfeedparser_entries(body, url=url, feed_id=feed_id_for(url))

    reference = "feedparser alone (same model)"
    parsers: dict[str, Callable[[bytes, str], list[Any]]] = {
        "parse_feed as shipped (lxml fast path)": shipped,
        reference: feedparser_only,
    }
    try:
        import fastfeedparser  # noqa: F401

        parsers["fastfeedparser (same model)"] = herald_fastfeedparser
    except ImportError:
        print("  fastfeedparser not installed: skipped", file=sys.stderr)
    rates: dict[str, float] = {}
    outputs: dict[str, list[Any]] = {}
    for name, parse in parsers.items():
        count, started = 0, time.perf_counter()
        first: list[Any] = []
        while True:
            body, url = bodies[count % len(bodies)], urls[count % len(urls)]
            entries = parse(body, url)
            if count < 50:
                first.extend(entries)
            count += 1
            elapsed = time.perf_counter() - started
            if elapsed >= seconds and count >= 50:
                break
        rates[name] = count / elapsed
        outputs[name] = first
    fields = ("item_id", "title", "link", "summary", "published", "tags", "image_urls", "content_hash")
    agreement = []
    for name, entries in outputs.items():
        if name == reference:
            continue
        same = sum(
            all(getattr(a, f) == getattr(b, f) for f in fields)
            for a, b in zip(entries, outputs[reference], strict=False)
        )
        agreement.append(f"{name}: {same}/{len(outputs[reference])}")
    agree = f"entries of 50 feeds identical to feedparser alone on {', '.join(fields)}: "
    agree += "; ".join(agreement)
    return rates, agree


# --- output -------------------------------------------------------------------------------------
def show(report: Report) -> None:
    from rich.table import Table

    out = console()
    table = Table(
        title=f"feed_ingest vs lemon24/reader — {report.corpus['feeds']} feeds × "
        f"{report.corpus['items_per_feed']} items ({report.corpus['kb_per_feed']} KB each), "
        f"Herald mode: {report.herald_mode}"
    )
    for column in (
        "pass",
        "who",
        "seconds",
        "feeds/s",
        "items/s",
        "errors",
        "vs reader",
        "goal",
        "rounds",
        "polls only",
        "worker CPU/feed",
    ):
        table.add_column(column, justify="right" if column not in ("pass", "who") else "left")
    goals = {"all_new": GOAL_ALL_NEW, "unchanged": GOAL_UNCHANGED}
    for name in ("all_new", "unchanged"):
        for who, results in (("Herald", report.herald), ("reader", report.reader)):
            result = results.get(name)
            if result is None:
                continue
            ratio = report.ratio(name) if who == "Herald" else None
            goal = goals[name]
            table.add_row(
                name.replace("_", "-"),
                who + (f" ({result.note.strip()})" if result.note.strip() else ""),
                f"{result.seconds:.2f}",
                f"{result.feeds_per_s:,.0f}",
                f"{result.items_per_s:,.0f}",
                str(result.errors),
                f"{ratio:.2f}×" if ratio is not None else "",
                (f"≥{goal:.0f}× {'met' if ratio >= goal else 'NOT met'}") if ratio is not None else "",
                ", ".join(f"{r:.1f}×" for r in report.round_ratios(name)) if who == "Herald" else "",
                f"{result.feeds / result.poll_window:,.0f} feeds/s" if result.poll_window else "",
                f"{1000 * result.worker_cpu / result.feeds:.2f} ms"
                if result.worker_cpu and result.feeds
                else "",  # noqa: E501
            )
    out.print(table)
    if report.parsers:
        parsers = Table(title="Parsing only, one core (feeds/s)")
        parsers.add_column("parser")
        parsers.add_column("feeds/s", justify="right")
        parsers.add_column("items/s", justify="right")
        for name, rate in report.parsers.items():
            parsers.add_row(name, f"{rate:,.0f}", f"{rate * report.corpus['items_per_feed']:,.0f}")
        out.print(parsers)
        if report.parsers_agree:
            out.print(report.parsers_agree)
    if any(result.poll_window for result in report.herald.values()):
        out.print(
            "polls only: first to last poll outcome on herald.ops.feed-health, leaving out the lead-in "
            "while the worker reads the 1,000 (re)subscriptions; the ratio uses the full, end-to-end time."
        )
    for note in report.notes:
        out.print(f"note: {note}")
    ratios = {name: report.ratio(name) for name in ("all_new", "unchanged")}
    print(
        json.dumps(
            {
                "bench": "feed_ingest",
                "herald_mode": report.herald_mode,
                "corpus": report.corpus,
                "herald": {name: result.as_json() for name, result in report.herald.items()},
                "reader": {name: result.as_json() for name, result in report.reader.items()},
                "ratio": {name: round(value, 2) if value else None for name, value in ratios.items()},
                "round_ratios": {
                    name: [round(r, 2) for r in report.round_ratios(name)]
                    for name in ("all_new", "unchanged")
                },
                "rounds": {
                    "herald": [{n: r.as_json() for n, r in one.items()} for one in report.herald_rounds],
                    "reader": [{n: r.as_json() for n, r in one.items()} for one in report.reader_rounds],
                },
                "parsers_feeds_per_s_per_core": {
                    name: round(rate, 1) for name, rate in report.parsers.items()
                },
                "cores": os.cpu_count(),
            }
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses the feeds are spread over")
    parser.add_argument("--mode", choices=("worker", "pipeline"), default="worker")
    parser.add_argument("--workers", type=int, default=2, help="feed_ingest worker processes (mode worker)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="HERALD_X=V",
        help="extra setting for the workers, e.g. HERALD_FEED_POLL_CONCURRENCY=32 (repeatable)",
    )
    parser.add_argument(
        "--parser",
        choices=("feedparser", "fastfeedparser"),
        default="feedparser",
        help="parser in mode pipeline (fastfeedparser: behind the same item model)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="polls in flight (mode pipeline; the worker default)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for one Herald pass")
    parser.add_argument("--parse-seconds", type=float, default=3.0, help="time per parser (0: skip)")
    parser.add_argument("--skip-reader", action="store_true")
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help="Herald and reader runs, paired and alternating who goes first; the table shows the "
        "median round of each and the median of the rounds' ratios",
    )
    parser.add_argument(
        "--pause-before-unchanged",
        type=float,
        default=0.0,
        help="seconds to wait before the unchanged pass, printing the worker pids (to attach a profiler)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    with tempfile.TemporaryDirectory(prefix="herald-bench-") as temp:
        work = Path(temp)
        corpus = write_corpus(work / "www", feeds=args.feeds, items=args.items)
        report = Report(
            corpus={
                "feeds": corpus.feeds,
                "items_per_feed": corpus.items_per_feed,
                "kb_per_feed": round(corpus.total_bytes / corpus.feeds / 1024, 1),
                "hosts": args.hosts,
                "server": "nginx",
            },
            herald_mode=f"pipeline/{args.parser}" if args.mode == "pipeline" else f"worker×{args.workers}",
        )
        with Nginx(corpus.root, hosts=args.hosts) as server:
            bases = server.base_urls
            urls = [
                base + path for path, base in zip(corpus.paths, _cycle(bases, len(corpus.paths)), strict=True)
            ]
            print(f"corpus: {corpus.feeds} feeds on nginx {', '.join(bases)}", file=sys.stderr)
            with kafka_bootstrap() as bootstrap:

                def herald_round(number: int) -> dict[str, PassResult]:
                    print(f"Herald ({report.herald_mode}) against Kafka at {bootstrap} …", file=sys.stderr)
                    if args.mode == "worker":
                        return asyncio.run(
                            herald_worker(
                                urls,
                                corpus.items_per_feed,
                                bootstrap,
                                workers=args.workers,
                                work_dir=_fresh(work / f"herald-{number}"),
                                timeout=args.timeout,
                                extra_env=dict(item.split("=", 1) for item in args.env),
                                pause=args.pause_before_unchanged,
                            )
                        )
                    return asyncio.run(
                        herald_pipeline(
                            urls,
                            corpus.items_per_feed,
                            bootstrap,
                            concurrency=args.concurrency,
                            parser=args.parser,
                        )
                    )

                def reader_round(number: int) -> dict[str, PassResult] | None:
                    print("lemon24/reader update_feeds(workers=4, scheduled=False) …", file=sys.stderr)
                    try:
                        return reader_passes(urls, _fresh(work / f"reader-{number}"))
                    except ImportError as exc:
                        report.notes.append(f"reader not installed ({exc}): pip install reader sgmllib3k")
                        return None

                with_reader = not args.skip_reader
                for number in range(args.rounds):
                    print(f"round {number + 1} of {args.rounds}", file=sys.stderr)
                    # Alternate who goes first: a machine speeding up or slowing down during the
                    # run then favours neither side.
                    theirs = reader_round(number) if with_reader and number % 2 else None
                    report.herald_rounds.append(herald_round(number))
                    if with_reader and not number % 2:
                        theirs = reader_round(number)
                    if theirs is None:
                        with_reader = False
                    else:
                        report.reader_rounds.append(theirs)
                if args.mode == "pipeline":
                    report.notes.append(
                        "mode pipeline: fetch → parse → decide → produce (acks=all) in one process, "
                        f"without faust's agent, table and scheduler; parser: {args.parser}"
                    )
            if args.parse_seconds > 0:
                report.parsers, report.parsers_agree = parser_rates(
                    corpus, bases[0], seconds=args.parse_seconds
                )
    show(report)
    return 0


def _fresh(directory: Path) -> Path:
    directory.mkdir(parents=True)
    return directory


def _cycle(values: Sequence[str], count: int) -> list[str]:
    return [values[index % len(values)] for index in range(count)]


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # one line, not a stack trace: the figures are what this script is for
        sys.exit(f"feed_ingest bench failed: {type(exc).__name__}: {exc}")
