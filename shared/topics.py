"""The topic catalogue: every Kafka topic Herald uses, in one place.

Services never spell a topic name; they take a `TopicSpec` from here. `herald broker start` and
every service's start-up create all of them with these exact partition counts (faust tables need
their changelogs co-partitioned with their source topics), so the catalogue is the truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from aiokafka.partitioner import murmur2

from shared.envelope import EventPayload
from shared.events import (
    FeedItemDiscovered,
    FeedItemUpdated,
    FeedMoved,
    FeedPolled,
    FeedStatusChanged,
    FeedSubscribed,
    FeedUnsubscribed,
    ForumAlertSent,
    PostApproved,
    PostDecisionRequested,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
    ServiceError,
    ServiceHeartbeat,
    StaffAccount,
    StaffAccountAdded,
    StaffAccountChangeRejected,
    StaffAccountChangeRequested,
    StaffAccountRemoved,
    StaffAccountUpdated,
)

DAY_MS = 24 * 60 * 60 * 1000
SERVICES = ("feed_ingest", "publisher", "notifier", "directory")

#: Partitions of every keyed stream. Tables keyed like their source need the same count.
DEFAULT_PARTITIONS = 4
#: Keys whose hash `key_hash` remembers (then it starts again): more than a worker's feeds.
KEY_HASHES_KEPT = 65536
_key_hashes: dict[bytes, int] = {}


def key_hash(key: bytes) -> int:
    """Kafka's default partitioner's hash of a record key (murmur2, positive), as the Java client
    and aiokafka compute it; remembered, since aiokafka's is pure Python and feed_ingest sends
    thousands of records a second for the same few thousand keys."""
    known = _key_hashes.get(key)
    if known is None:
        if len(_key_hashes) >= KEY_HASHES_KEPT:
            _key_hashes.clear()
        known = _key_hashes[key] = murmur2(key) & 0x7FFFFFFF
    return known


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, what its key is, which events it carries, and how Kafka keeps it."""

    name: str
    key: str
    description: str
    payloads: tuple[type[EventPayload], ...] = ()
    partitions: int = DEFAULT_PARTITIONS
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = 14 * DAY_MS
    public: bool = True
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def accepts(self) -> dict[str, type[EventPayload]]:
        """Event type → model, for validating records read from this topic."""
        return {model.event_type: model for model in self.payloads}

    def partition_for(self, key: bytes) -> int:
        """The partition a producer's default partitioner puts `key` in. The catalogue's count is
        the topic's (`shared.kafka_admin` refuses to start otherwise)."""
        return key_hash(key) % self.partitions

    def in_namespace(self, namespace: str) -> TopicSpec:
        """The same topic under a name prefix (isolated test runs, several installations)."""
        return replace(self, name=namespace + self.name) if namespace else self

    def kafka_config(self) -> dict[str, str]:
        config = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        if self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        return config


FEEDS = TopicSpec(
    name="herald.feeds",
    key="feed_id",
    description="Feed subscriptions; compacted, so the latest event per feed is its state.",
    payloads=(FeedSubscribed, FeedUnsubscribed),
    cleanup_policy="compact",
    retention_ms=None,
)
FEED_ITEMS = TopicSpec(
    name="herald.feed-items",
    key="item_id",
    description="New items found in the council's feeds, and later changes to them.",
    payloads=(FeedItemDiscovered, FeedItemUpdated),
    retention_ms=30 * DAY_MS,
)
POSTS = TopicSpec(
    name="herald.posts",
    key="item_id",
    description="What the publisher did with each item on each channel, and the policy's decisions.",
    payloads=(PostPublished, PostFailed, PostHeld, PostApproved, PostDropped),
    retention_ms=90 * DAY_MS,
)
PUBLISHER_COMMANDS = TopicSpec(
    name="herald.publisher.commands",
    key="item_id",
    description="Approve or drop held posts (CLI, admin API); read by publisher only.",
    payloads=(PostDecisionRequested,),
    public=False,
)
FEED_HEALTH = TopicSpec(
    name="herald.ops.feed-health",
    key="feed_id",
    description="Every poll's outcome, feeds turning broken or healthy, feeds that moved.",
    payloads=(FeedPolled, FeedStatusChanged, FeedMoved),
    retention_ms=7 * DAY_MS,
)
DIRECTORY_COMMANDS = TopicSpec(
    name="herald.directory.commands",
    key="staff_id",
    description="Requests to change the staff directory (CLI, imports); read by directory only.",
    payloads=(StaffAccountChangeRequested,),
    public=False,
)
DIRECTORY_EVENTS = TopicSpec(
    name="herald.directory.events",
    key="staff_id",
    description="Changes to the staff directory, and refused requests.",
    payloads=(StaffAccountAdded, StaffAccountUpdated, StaffAccountRemoved, StaffAccountChangeRejected),
    retention_ms=365 * DAY_MS,
)
DIRECTORY_SNAPSHOT = TopicSpec(
    name="herald.directory.accounts",
    key="staff_id",
    description="The directory as it is now: latest account per staff id, tombstone when removed.",
    payloads=(StaffAccount,),
    cleanup_policy="compact",
    retention_ms=None,
)
FORUM_ALERTS = TopicSpec(
    name="herald.forum.alerts",
    key="about_event_id",
    description="What the forum was told.",
    payloads=(ForumAlertSent,),
    retention_ms=90 * DAY_MS,
)
OPS_HEARTBEAT = TopicSpec(
    name="herald.ops.heartbeat",
    key="service",
    description="Liveness of every worker.",
    payloads=(ServiceHeartbeat,),
    partitions=1,
    retention_ms=1 * DAY_MS,
)
OPS_ERRORS = TopicSpec(
    name="herald.ops.errors",
    key="service",
    description="Errors ops should see: dead-lettered records, failing dependencies.",
    payloads=(ServiceError,),
    partitions=1,
    retention_ms=30 * DAY_MS,
)


def dead_letter(service: str) -> TopicSpec:
    """The dead-letter topic of one service: records it could not read, as they were, with the
    reason and their origin in `herald-dlq-*` headers."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return TopicSpec(
        name=f"herald.dlq.{service}",
        key="original key",
        description=f"Records {service} could not process, unchanged, with the reason in headers.",
        partitions=1,
        retention_ms=30 * DAY_MS,
    )


#: Topics owned by one service for its own work (not a public contract).
FEED_POLLS = TopicSpec(
    name="herald.internal.feed-polls",
    key="feed_id",
    description=(
        "Poll-now requests (pings, WebSub pushes, leases, refreshes) for the feed's owner; "
        "co-partitioned with herald.feeds."
    ),
    retention_ms=1 * DAY_MS,
    public=False,
)

PUBLIC_TOPICS: tuple[TopicSpec, ...] = (
    FEEDS,
    FEED_ITEMS,
    POSTS,
    DIRECTORY_EVENTS,
    DIRECTORY_SNAPSHOT,
    FORUM_ALERTS,
    OPS_HEARTBEAT,
    OPS_ERRORS,
    FEED_HEALTH,
)
ALL_TOPICS: tuple[TopicSpec, ...] = (
    *PUBLIC_TOPICS,
    DIRECTORY_COMMANDS,
    PUBLISHER_COMMANDS,
    FEED_POLLS,
    *(dead_letter(service) for service in SERVICES),
)


def by_name(name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
