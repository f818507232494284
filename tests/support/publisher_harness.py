"""The publisher as a real process against a fake X that can SIGKILL it at exact points of a post,
plus what the kill test and the benchmark share: item streams, the process environment, and a
reader of the outcomes on `herald.posts`.

Why the kill lives in the fake: the fake X runs in a thread of the test process, so the moment X
has accepted a post (and, if wanted, before the answer leaves) is known exactly there, not from
outside. `KillSwitchX` counts accepted posts since it was armed and SIGKILLs the publisher's
process group on the chosen one, either before answering (X has the post, the publisher never
learns it) or right after answering plus a delay (the result may or may not be in the ledger, the
offset is almost surely not committed: faust commits every 2.8 s).
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.envelope import CloudEvent
from shared.events import FeedItemDiscovered
from shared.producer import EventProducer
from shared.topics import FEED_ITEMS, POSTS
from tests.fakes.x_api import CREDENTIALS, FakeXApi
from tests.support.processes import REPO_ROOT, ServiceProcess

LINK_BASE = "https://www.example.gov.uk/news/"

KillWhen = Literal["before_answer", "after_answer", "on_request"]


def news_item(title: str, feed_id: str = "feed-news") -> FeedItemDiscovered:
    """One item of `feed_id` with a unique id and link."""
    item_id = f"item-{uuid.uuid4().hex[:12]}"
    return FeedItemDiscovered(
        item_id=item_id,
        feed_id=feed_id,
        feed_url=f"https://www.example.gov.uk/{feed_id}.rss",
        title=title,
        link=f"https://www.example.gov.uk/news/{item_id}",
        content_hash=uuid.uuid4().hex,
        discovered_at=datetime.now(UTC),
    )


def make_items(count: int, *, tag: str | None = None) -> list[FeedItemDiscovered]:
    """`count` distinct items whose links all have the same length, so no link is a prefix of
    another and "this item's post" is a plain substring test on the posted text."""
    tag = tag or uuid.uuid4().hex[:6]
    items = []
    for _ in range(count):
        item_id = f"item-{tag}-{uuid.uuid4().hex[:12]}"
        items.append(
            FeedItemDiscovered(
                item_id=item_id,
                feed_id="feed-kill-test",
                feed_url=f"{LINK_BASE}feed.rss",
                title=f"Council notice {item_id[-6:]}: road closures and bin collections",
                link=f"{LINK_BASE}{item_id}",
                content_hash=uuid.uuid4().hex,
                discovered_at=datetime.now(UTC),
            )
        )
    return items


def live_x_env(
    bootstrap: str, namespace: str, state_dir: Path, port: int, fake: FakeXApi, **extra: str
) -> dict[str, str]:
    """The publisher posting to `fake` over TLS with the fake's credentials.

    `BROKER_SESSION_TIMEOUT`/`BROKER_HEARTBEAT_INTERVAL` are faust's own environment overrides: a
    SIGKILLed member holds its partitions until its session expires, so a short session (6 s is
    the broker's minimum) keeps each restart short."""
    return {
        "HERALD_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "HERALD_TOPIC_NAMESPACE": namespace,
        "HERALD_STATE_DIR": str(state_dir),
        "HERALD_PUBLISHER_PORT": str(port),
        "HERALD_PUBLISHER_BACKOFF_BASE_SECONDS": "0.1",
        "HERALD_HEARTBEAT_INTERVAL_SECONDS": "5",
        "HERALD_X_API_BASE_URL": fake.base_url,
        "HERALD_X_CA_BUNDLE": str(fake.ca_path),
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_HEARTBEAT_INTERVAL": "1",
        **CREDENTIALS,
        **extra,
    }


async def produce(
    bootstrap: str, namespace: str, items: Iterable[FeedItemDiscovered], *, at_once: bool = False
) -> dict[str, CloudEvent]:
    """Send the items to `herald.feed-items` (acknowledged by the broker); their envelopes by item
    id. `at_once` sends them concurrently (the producer batches them) instead of one by one."""
    async with EventProducer(bootstrap, source="/herald/tests", namespace=namespace) as producer:
        items = list(items)
        if at_once:
            envelopes = await asyncio.gather(*(producer.send(FEED_ITEMS, i.item_id, i) for i in items))
        else:
            envelopes = [await producer.send(FEED_ITEMS, i.item_id, i) for i in items]
    return {item.item_id: envelope for item, envelope in zip(items, envelopes, strict=True)}


class PublisherProcess(ServiceProcess):
    """`launch()` starts `python -m services.publisher` without waiting for readiness: a kill test
    arms its kill first, since a restarted worker may post before /health says ready."""

    def __init__(self, env: dict[str, str], port: int, log_dir: Path) -> None:
        super().__init__("publisher", env, port, log_dir)

    def launch(self) -> PublisherProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "services.publisher"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def sigkill(self) -> bool:
        return self.process is not None and sigkill(self.process)


def sigkill(process: subprocess.Popen[bytes], *, wait: float = 5.0) -> bool:
    """SIGKILL the process's group (the service runs in its own session) and wait until it is dead.
    False if it was already gone. Safe from any thread."""
    if process.poll() is not None:
        return False
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + wait
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    return True


@dataclass
class Kill:
    """What a kill hit: where, and the text X was handling then (None for a timer kill)."""

    where: str
    text: str | None
    at: float = field(default_factory=time.time)


@dataclass
class _Trap:
    kill: Callable[[], bool]
    after_posts: int
    when: KillWhen
    delay: float
    seen: int = 0


_request_note: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("fake_x_request_note")


class KillSwitchX(FakeXApi):
    """The loopback X of tests/fakes/x_api.py that can also SIGKILL the publisher at a chosen
    accepted post, and notes when each call arrived (`received`: text → epoch seconds).

    `limits=False` (the default) gives the account an allowance no run uses up: a kill test or a
    benchmark measures crashes and throughput, not X's 100-post window."""

    def __init__(self, workdir: Path, *, limits: bool = False, **kwargs: Any) -> None:
        super().__init__(workdir, **kwargs)
        if not limits:
            self.rate_limit_remaining = 1_000_000_000
        self.received: dict[str, float] = {}
        self.kills: list[Kill] = []
        self.fired = threading.Event()
        self._trap: _Trap | None = None

    def arm(
        self, kill: Callable[[], bool], *, after_posts: int = 1, when: KillWhen, delay: float = 0.0
    ) -> None:
        """Kill on the `after_posts`-th post accepted from now: `before_answer` (X keeps the post,
        the client never hears back) or `after_answer` (`delay` seconds after the answer left);
        or `on_request`: `delay` seconds after the `after_posts`-th request arrived, whatever
        happens to it meanwhile (a kill at a moment unrelated to X's answers)."""
        self.fired.clear()
        with self._lock:
            self._trap = _Trap(kill, after_posts, when, delay)

    def disarm(self) -> None:
        with self._lock:
            self._trap = None

    async def _create_tweet(self, request: web.Request) -> web.Response:
        received = time.time()
        note: dict[str, Any] = {}
        _request_note.set(note)  # each request runs in its own task: its own context
        try:
            body = await request.json()  # aiohttp keeps the body: the fake reads it again
            text = body.get("text") if isinstance(body, dict) else None
        except ValueError:
            text = None
        if isinstance(text, str):
            self.received.setdefault(text, received)
        with self._lock:
            trap = self._trap
            if trap is not None and trap.when == "on_request":
                trap.seen += 1
                if trap.seen >= trap.after_posts:
                    self._trap = None
                    assert self._loop is not None
                    self._loop.call_later(trap.delay, self._fire, trap, "on_request", text)
        response = await super()._create_tweet(request)
        trap = note.get("trap")
        if trap is not None:  # armed for after_answer: answer first, then kill
            await response.prepare(request)
            await response.write_eof()
            assert self._loop is not None
            self._loop.call_later(trap.delay, self._fire, trap, "after_answer", text)
        return response

    def _answer(
        self,
        text: str | None,
        oauth: dict[str, str],
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        if status == 201:
            with self._lock:
                trap = self._trap
                if trap is not None and trap.when != "on_request":
                    trap.seen += 1
                    if trap.seen >= trap.after_posts:
                        self._trap = None
                    else:
                        trap = None
                else:
                    trap = None
            if trap is not None and trap.when == "before_answer":
                self._fire(trap, "before_answer", text)  # the post is recorded; no answer yet
            elif trap is not None:
                _request_note.get({})["trap"] = trap
        return super()._answer(text, oauth, status, body, headers)

    def _fire(self, trap: _Trap, where: str, text: str | None) -> None:
        """Kill the current generation. With none alive (a request of the generation just killed
        finished after the test re-armed, before the next one was launched) the trap is put back,
        not spent: spent, the next generation would run with no kill coming."""
        if trap.kill():
            self.kills.append(Kill(where=where, text=text))
            self.fired.set()
            return
        with self._lock:
            if self._trap is None:
                self._trap = replace(trap, seen=0)

    # --- what X saw ---------------------------------------------------------------------------
    def calls_for(self, link: str) -> int:
        """Calls (any answer) whose text carries `link`."""
        return sum(1 for call in list(self.calls) if call.text and link in call.text)

    def posts_for(self, link: str) -> list[dict[str, Any]]:
        return [post for post in list(self.posts) if link in post["text"]]


class OutcomeReader:
    """Reads `herald.posts` from the beginning and keeps every event by item id (subject)."""

    def __init__(self, bootstrap: str, namespace: str) -> None:
        self.topic = namespace + POSTS.name
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.by_item: dict[str, list[CloudEvent]] = {}

    async def __aenter__(self) -> OutcomeReader:
        await self.consumer.start()
        partitions = [TopicPartition(self.topic, p) for p in range(POSTS.partitions)]
        self.consumer.assign(partitions)
        await self.consumer.seek_to_beginning(*partitions)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def poll(self, timeout_ms: int = 200) -> dict[str, list[CloudEvent]]:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms)
        for records in batches.values():
            for record in records:
                event = CloudEvent.model_validate_json(record.value)
                self.by_item.setdefault(event.subject or "", []).append(event)
        return self.by_item


async def consumed_everything(bootstrap: str, namespace: str) -> bool:
    """Whether the publisher's group has committed every record on feed-items (so every item,
    redeliveries included, has been handled)."""
    topic = namespace + FEED_ITEMS.name
    group = f"{namespace}herald-publisher"
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(FEED_ITEMS.partitions)]
        ends = await probe.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
        return all(
            ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp]) for tp in partitions
        )
    finally:
        await probe.stop()
        await admin.close()
