"""The topic catalogue: every Kafka topic Herald uses, in one place.

Services never spell a topic name; they take a `TopicSpec` from here. `herald broker start` and
every service's start-up create all of them with these exact partition counts (faust tables need
their changelogs co-partitioned with their source topics), so the catalogue is the truth. It also
says who in Herald produces and consumes each topic and what its records may hold; the README's
service table and docs/architecture.md's topic table are rendered from it (`herald events topics`),
and tests check both those tables and the producers/consumers against the code.
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
    HandleClaimed,
    PostApproved,
    PostDecisionRequested,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
    ServiceError,
    ServiceHeartbeat,
    StaffAccountChangeRejected,
    StaffChanged,
    StaffCommand,
    StaffErased,
    StaffMember,
)

DAY_MS = 24 * 60 * 60 * 1000
Party = Literal["feed_ingest", "publisher", "notifier", "directory", "cli"]
SERVICES: tuple[Party, ...] = ("feed_ingest", "publisher", "notifier", "directory")
#: Who reads and writes topics: the four services and the `herald` command line.
PARTIES: tuple[Party, ...] = (*SERVICES, "cli")
#: What a topic's records may hold, least sensitive first: `public` only what the council publishes
#: anyway; `internal` for council staff and ops (unpublished post text, who approved it, errors);
#: `personal` names and accounts of the directory's people, private accounts included.
Classification = Literal["public", "internal", "personal"]
CLASSIFICATIONS: tuple[Classification, ...] = ("public", "internal", "personal")

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
    """One topic: its name, what its key is, which events it carries, how Kafka keeps it, who in
    Herald writes and reads it, and how sensitive its records are.

    `public` says whether the topic is part of the published contract (other teams may read it:
    docs/contract/, docs/consuming.md); `classification` says what its records may hold. A
    `personal` topic is never public: other teams get personal data, if at all, through a topic
    made to hold only what may be shown."""

    name: str
    key: str
    description: str
    payloads: tuple[type[EventPayload], ...] = ()
    partitions: int = DEFAULT_PARTITIONS
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = 14 * DAY_MS
    public: bool = False
    extra_config: dict[str, str] = field(default_factory=dict)
    key_description: str = ""
    producers: tuple[Party, ...] = ()
    consumers: tuple[Party, ...] = ()
    classification: Classification = "internal"

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

    def __post_init__(self) -> None:
        if self.public and self.classification == "personal":
            raise ValueError(f"{self.name} holds personal data, so it cannot be in the public contract")

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
    key_description="the feed's id (from its normalised URL): its subscription events stay in order",
    producers=("cli", "feed_ingest"),
    consumers=("feed_ingest", "cli"),
    public=True,
    classification="public",
)
FEED_ITEMS = TopicSpec(
    name="herald.feed-items",
    key="item_id",
    description="New items found in the council's feeds, and later changes to them.",
    payloads=(FeedItemDiscovered, FeedItemUpdated),
    retention_ms=30 * DAY_MS,
    key_description='the item\'s stable id (docs/architecture.md "Identity"): its events stay in order',
    producers=("feed_ingest",),
    consumers=("publisher", "notifier", "cli"),
    public=True,
    classification="public",
)
POSTS = TopicSpec(
    name="herald.posts",
    key="item_id",
    description="What the publisher did with each item on each channel, and the policy's decisions.",
    payloads=(PostPublished, PostFailed, PostHeld, PostApproved, PostDropped),
    retention_ms=90 * DAY_MS,
    key_description="the item's id, so what was done with one item, on every channel, stays in order",
    producers=("publisher",),
    consumers=("notifier", "cli"),
    public=True,
    classification="internal",
)
PUBLISHER_COMMANDS = TopicSpec(
    name="herald.publisher.commands",
    key="item_id",
    description="Approve or drop held posts (CLI, admin API); read by publisher only.",
    payloads=(PostDecisionRequested,),
    key_description="the held item's id, as on herald.posts",
    producers=("cli", "publisher"),
    consumers=("publisher",),
    classification="internal",
)
FEED_HEALTH = TopicSpec(
    name="herald.ops.feed-health",
    key="feed_id",
    description="Every poll's outcome, feeds turning broken or healthy, feeds that moved.",
    payloads=(FeedPolled, FeedStatusChanged, FeedMoved),
    retention_ms=7 * DAY_MS,
    key_description="the feed's id, so a feed's reports stay in order",
    producers=("feed_ingest",),
    consumers=("notifier", "cli"),
    public=True,
    classification="internal",
)
DIRECTORY_COMMANDS = TopicSpec(
    name="herald.directory.commands",
    key="staff_id",
    description=(
        "Requests to change the staff directory (CLI, imports, admin API, HR systems); read by"
        " directory only. Short retention: it holds personal data that erasure cannot tombstone."
    ),
    payloads=(StaffCommand,),
    retention_ms=1 * DAY_MS,
    key_description="the person's staff id: one person's requests are decided in order, by the "
    "worker holding their partition",
    producers=("cli", "directory"),
    consumers=("directory",),
    classification="personal",
)
DIRECTORY_EVENTS = TopicSpec(
    name="herald.directory.events",
    key="staff_id",
    description="Changes to the staff directory, and refused requests: ids and non-personal fields only.",
    payloads=(
        StaffChanged,
        StaffErased,
        StaffAccountChangeRejected,
    ),
    retention_ms=365 * DAY_MS,
    key_description="the person's staff id, so one person's changes stay in order",
    producers=("directory",),
    consumers=("directory", "notifier", "cli"),
    classification="personal",
)
DIRECTORY_SNAPSHOT = TopicSpec(
    name="herald.directory.staff",
    key="staff_id",
    description="The directory as it is now: latest record per person, tombstone when erased.",
    payloads=(StaffMember,),
    cleanup_policy="compact",
    retention_ms=None,
    # Erased people's records go from the log within a day of their tombstone (segments roll
    # hourly); the tombstone itself is kept a day so followers see it.
    extra_config={"segment.ms": str(60 * 60 * 1000), "delete.retention.ms": str(DAY_MS)},
    key_description="the person's staff id; compaction keeps the latest record per person",
    producers=("directory",),
    consumers=("directory", "notifier", "cli"),
    classification="personal",
)
DIRECTORY_HANDLE_CLAIMS = TopicSpec(
    name="herald.directory.handle-claims",
    key="platform, handle, staff_id",
    description="Who holds each handle: the directory's workers claim a handle here before giving it "
    "to a person; the earliest claim still standing holds it, a release is a tombstone.",
    payloads=(HandleClaimed,),
    # One partition: one order of claims that every worker reads alike
    # (docs/adr/0014-directory-split-by-partition.md).
    partitions=1,
    cleanup_policy="compact",
    retention_ms=None,
    extra_config={"segment.ms": str(60 * 60 * 1000), "delete.retention.ms": str(DAY_MS)},
    key_description="platform, handle and staff id: compaction keeps each person's latest claim or "
    "release of each handle",
    producers=("directory",),
    consumers=("directory",),
    classification="personal",
)
FORUM_ALERTS = TopicSpec(
    name="herald.forum.alerts",
    key="about_event_id",
    description="What the forum was told.",
    payloads=(ForumAlertSent,),
    retention_ms=90 * DAY_MS,
    key_description="the CloudEvents id of the event the forum was told about",
    producers=("notifier",),
    classification="personal",
)
OPS_HEARTBEAT = TopicSpec(
    name="herald.ops.heartbeat",
    key="service",
    description="Liveness of every worker.",
    payloads=(ServiceHeartbeat,),
    partitions=1,
    retention_ms=1 * DAY_MS,
    key_description="the service's name",
    producers=SERVICES,
    consumers=("cli",),
    public=True,
    classification="internal",
)
OPS_ERRORS = TopicSpec(
    name="herald.ops.errors",
    key="service",
    description="Errors ops should see: dead-lettered records, failing dependencies.",
    payloads=(ServiceError,),
    partitions=1,
    retention_ms=30 * DAY_MS,
    key_description="the service's name",
    producers=SERVICES,
    consumers=("cli",),
    public=True,
    classification="internal",
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
    key_description="the feed's id; none for a refresh, whose partition is its address",
    producers=("feed_ingest", "cli"),
    consumers=("feed_ingest",),
    classification="internal",
)

NOTIFIER_DIGEST = TopicSpec(
    name="herald.internal.notifier-digest",
    key="target",
    description=(
        "Lines for digest targets' next digests, each as that target may see it; keyed by target, so"
        " one worker gathers each target's digest."
    ),
    retention_ms=14 * DAY_MS,
    key_description="the digest target's name in the notifier's targets file",
    producers=("notifier",),
    consumers=("notifier",),
    classification="personal",
)

#: Every topic but the dead-letter ones.
_WORK_TOPICS: tuple[TopicSpec, ...] = (
    FEEDS,
    FEED_ITEMS,
    POSTS,
    DIRECTORY_EVENTS,
    DIRECTORY_SNAPSHOT,
    DIRECTORY_HANDLE_CLAIMS,
    FORUM_ALERTS,
    OPS_HEARTBEAT,
    OPS_ERRORS,
    FEED_HEALTH,
    DIRECTORY_COMMANDS,
    PUBLISHER_COMMANDS,
    FEED_POLLS,
    NOTIFIER_DIGEST,
)
#: The published contract: what other teams may subscribe to (no personal data).
PUBLIC_TOPICS: tuple[TopicSpec, ...] = tuple(spec for spec in _WORK_TOPICS if spec.public)
#: Topics other teams' systems write to (HR systems send the directory its commands): personal,
#: so not public, but their message schemas are published in docs/contract/internal/.
INBOUND_TOPICS: tuple[TopicSpec, ...] = (DIRECTORY_COMMANDS,)


def dead_letter(service: Party) -> TopicSpec:
    """The dead-letter topic of one service: records it could not read, as they were, with the
    reason and their origin in `herald-dlq-*` headers. Copies of what the service reads, so as
    sensitive as the most sensitive topic it consumes."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    read = [spec.classification for spec in _WORK_TOPICS if service in spec.consumers]
    return TopicSpec(
        name=f"herald.dlq.{service}",
        key="original key",
        description=f"Records {service} could not process, unchanged, with the reason in headers.",
        partitions=1,
        retention_ms=30 * DAY_MS,
        key_description="the dead-lettered record's own key, unchanged",
        producers=(service,),
        consumers=("cli",),  # `herald ops dlq list|replay`
        classification=max(read, key=CLASSIFICATIONS.index, default="internal"),
    )


ALL_TOPICS: tuple[TopicSpec, ...] = (*_WORK_TOPICS, *(dead_letter(service) for service in SERVICES))


def by_name(name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    raise KeyError(name)
