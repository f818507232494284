"""feed_ingest's faust app: the subscriptions table, the herald.feeds consumer, the poll-request
agent, the scheduler task, the timing flush timer and the HTTP pages.

The parts, each in its module: `subscriptions` (the `feeds` table and every write of a feed's
state), `scheduler` (which feeds this worker owns, their due-heap, polls started when due,
drained before a revoke), `poller` (one poll: fetch → parse → decide → publish → store),
`item_events` (a poll's item events, acknowledged prefix kept), `reporting` (each outcome stored,
then on herald.ops.feed-health), `hub_leases` (WebSub on the subscriber's side) and `views`.

Push (issue 5 §5): `POST /ping` and WebSub distributions become poll requests with reason
"ping"/"push" on `herald.internal.feed-polls`, keyed like herald.feeds: faust co-partitions
topics with the same partition count, so whichever worker the HTTP request reaches, the feed's
owner acts. Built without connecting anything: the fetcher's pool is made on the first poll.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import faust
from pydantic import ValidationError

from services.feed_ingest.fetch import FeedFetcher
from services.feed_ingest.hub_leases import HubLeases
from services.feed_ingest.item_events import ItemPublisher
from services.feed_ingest.poller import Poller
from services.feed_ingest.reporting import PollReporter
from services.feed_ingest.schedule import SchedulePolicy
from services.feed_ingest.scheduler import Scheduler
from services.feed_ingest.state import PollRequest
from services.feed_ingest.subscriptions import Subscriptions
from services.feed_ingest.views import install_pages
from shared.envelope import CloudEvent
from shared.events import FeedSubscribed, FeedUnsubscribed
from shared.runtime import ServiceRuntime
from shared.settings import FeedIngestSettings, HeraldSettings
from shared.topics import FEED_POLLS, FEEDS

SERVICE = "feed_ingest"
#: Produce batches wait this long for more records: dozens of polls are in flight, each sending
#: items, a state and a FeedPolled; fuller batches cut the worker's and the broker's CPU per poll
#: (the benchmark's passes ran 5–20 % faster) for 10 ms more per acknowledged write (ping →
#: FeedItemDiscovered p50 5 → 38 ms; the goal is p99 under 1 s).
PRODUCER_LINGER_SECONDS = 0.01
#: Up to this much per partition in one produce request (aiokafka's default is 16 KB, ~20 FeedPolled
#: or ~10 items): a record's share of the Python work of requests fell ~45 → ~12 µs with 64 KB
#: and FeedPolled sent in batches (`shared.report_batches`), measured against the local broker.
PRODUCER_BATCH_BYTES = 64 * 1024


def create_runtime(settings: HeraldSettings, bootstrap: str) -> ServiceRuntime:
    runtime = ServiceRuntime(
        SERVICE,
        settings,
        bootstrap_servers=bootstrap,
        producer_linger=PRODUCER_LINGER_SECONDS,
        producer_batch_bytes=PRODUCER_BATCH_BYTES,
    )
    install(runtime, settings.feed_ingest)
    return runtime


def schedule_policy(options: FeedIngestSettings) -> SchedulePolicy:
    return SchedulePolicy(
        min_interval=options.feed_min_interval_seconds,
        max_interval=options.feed_max_interval_seconds,
        jitter=options.feed_poll_jitter,
        max_backoff=options.feed_max_backoff_seconds,
        broken_after=options.feed_broken_after_seconds,
    )


def install(runtime: ServiceRuntime, options: FeedIngestSettings) -> Scheduler:
    """Build the parts onto `runtime` and declare its agents, task, timer and pages."""
    app = runtime.app
    policy = schedule_policy(options)
    rand = random.Random()
    fetcher = FeedFetcher(runtime.settings)
    subscriptions = Subscriptions(runtime)
    poll_counts: Counter[str] = Counter()
    hubs = HubLeases(runtime, subscriptions, fetcher, options)
    poller = Poller(
        runtime,
        subscriptions,
        fetcher,
        policy,
        rand,
        items=ItemPublisher(runtime),
        reporter=PollReporter(runtime, subscriptions, policy, rand),
        hubs=hubs if options.websub_enabled else None,
        poll_counts=poll_counts,
    )
    scheduler = Scheduler(
        runtime, subscriptions, poller, concurrency=options.feed_poll_concurrency, poll_counts=poll_counts
    )

    @runtime.consumer(FEEDS)
    async def on_subscription(envelope: CloudEvent, payload: FeedSubscribed | FeedUnsubscribed) -> None:
        await subscriptions.on_subscription(envelope, payload)

    @app.agent(
        runtime.topic(FEED_POLLS), name=f"herald.{SERVICE}.poll", concurrency=options.feed_poll_concurrency
    )
    async def poll(stream: faust.StreamT) -> Any:
        async for event in stream.events():
            try:
                request = PollRequest.model_validate_json(event.value or b"")
            except ValidationError as exc:
                await runtime.dead_letter(event, f"not a poll request: {exc.errors()[0]['msg']}")
                continue
            if request.reason == "lease":
                await hubs.record_lease(request)
            elif request.reason == "refresh":
                await scheduler.refresh(event.message.partition)
            else:
                await poller.run_poll(request)

    app.task(scheduler.run)

    @app.timer(options.feed_timing_flush_seconds, name=f"herald.{SERVICE}.flush_timing")
    async def flush_timing() -> None:
        subscriptions.flush_timing(scheduler.owned)

    app.on_partitions_assigned.connect(scheduler.on_assignment_change)
    app.on_partitions_revoked.connect(scheduler.on_revoke)

    @app.on_before_shutdown.connect
    async def close(app: Any, **kwargs: Any) -> None:
        """Hand the held FeedPolled reports to the producer, write the timing-only states and
        wait for the broker (faust has stopped the table by now and stops the producer right
        after this, see `DurableTable.settle`)."""
        await runtime.flush_reports()
        subscriptions.flush_timing(scheduler.owned)
        await subscriptions.table.settle(wait_seconds=10.0)
        await fetcher.aclose()

    install_pages(runtime, options, scheduler)
    runtime.heartbeat_detail["owned_feeds"] = "0"
    return scheduler
