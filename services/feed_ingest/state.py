"""What feed_ingest remembers per feed (its faust table value) and how each outcome changes it.

Pure: every function takes the old state and returns a new one; the agent does the I/O and the
table write. The state is bounded per feed (the seen window and its fingerprints, see
`decide.SEEN_WINDOW`), so a worker's memory grows with the feeds it owns, not with the items ever
seen. When the next poll is due comes from `schedule.SchedulePolicy` (issue 5 §4).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.feed_ingest.schedule import SchedulePolicy, honour_hint
from shared.events import FeedSubscribed, FeedUnsubscribed

#: Backoff after consecutive errors: interval × 2^(failures-1), at most this (or the interval).
MAX_BACKOFF_SECONDS = 6 * 60 * 60
#: The policy when the caller gives none: no jitter, so plain-data tests see exact times.
DEFAULT_POLICY = SchedulePolicy(max_backoff=MAX_BACKOFF_SECONDS)

#: The feed id of a "refresh" request, which is about every feed of its partition.
REFRESH_ALL = "*"
PollOutcome = Literal["ok", "not_modified", "error"]
FeedStatus = Literal["ok", "error", "broken", "paused", "inactive"]
#: schedule: the feed is due; ping: someone asked for this feed now (`POST /ping`, `herald feeds
#: poll URL`); push: WebSub delivered the body; lease: a hub granted a subscription; refresh:
#: poll every feed of the record's partition now (`herald feeds poll --all`, after an outage, or
#: what lemon24/reader calls `update_feeds(scheduled=False)`).
PollReason = Literal["schedule", "ping", "push", "lease", "refresh"]


class FeedState(BaseModel):
    """One subscribed feed: its subscription, where its polling stands, and the ids it has seen."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed_id: str
    url: str
    interval_seconds: int
    backfill: int = Field(default=0, description="Latest N items to emit on the first poll.")
    partition: int = Field(description="Partition of herald.feeds holding it (poll requests go there).")
    active: bool = Field(default=True, description="False once unsubscribed; seen ids are kept.")
    subscribed_at: datetime
    baseline_done: bool = Field(default=False, description="A first successful poll has happened.")
    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = Field(default_factory=list, description="Identity keys seen, newest first, bounded.")
    fingerprints: dict[str, str] = Field(
        default_factory=dict,
        description="Key → 'item_id content_hash field_digests announced' (decide.Fingerprint).",
    )
    paused: bool = Field(default=False, description="Polling paused (`herald feeds pause`).")
    effective_interval: float | None = Field(default=None, description="Adaptive interval now (seconds).")
    failing_since: datetime | None = Field(default=None, description="First failure of the current run.")
    broken: bool = Field(default=False, description="Failing longer than allowed; announced.")
    websub_hub: str | None = None
    websub_topic: str | None = None
    websub_requested_at: datetime | None = None
    websub_lease_until: datetime | None = None
    generation: int = Field(default=0, description="Polls completed; a request for another one is stale.")
    next_poll_at: float = Field(default=0.0, description="Unix time the next poll is due.")
    consecutive_failures: int = 0
    last_outcome: PollOutcome | None = None
    last_http_status: int | None = None
    last_error_kind: str | None = None
    last_error: str | None = None
    last_polled_at: datetime | None = None
    last_success_at: datetime | None = None
    items_emitted: int = 0
    items_updated: int = 0

    def to_table(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def status(self) -> FeedStatus:
        if not self.active:
            return "inactive"
        if self.paused:
            return "paused"
        if self.broken:
            return "broken"
        return "error" if self.last_outcome == "error" else "ok"

    @property
    def schedulable(self) -> bool:
        return self.active and not self.paused


class PollRequest(BaseModel):
    """Internal (herald.internal.feed-polls, keyed by feed id): "poll this feed now".

    Not a public event, so no CloudEvents envelope: JSON of this model. `generation` is the
    state's at request time; if a poll completed since, the request is stale and ignored.
    A "refresh" names no feed: it is sent to each partition, and means every feed there.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    feed_id: str = Field(description="The feed; REFRESH_ALL (and only there) for a refresh.")
    generation: int | None = Field(default=None, ge=0, description="None: poll whatever the generation.")
    reason: PollReason = "schedule"
    requested_at: datetime
    body_b64: str | None = Field(default=None, description="push: the distributed content, base64.")
    content_type: str | None = Field(default=None, description="push: its Content-Type.")
    lease_seconds: int | None = Field(default=None, description="lease: what the hub granted.")

    @model_validator(mode="after")
    def _refresh_names_no_feed(self) -> PollRequest:
        if (self.reason == "refresh") != (self.feed_id == REFRESH_ALL):
            raise ValueError(f"feed_id {REFRESH_ALL!r} goes with reason 'refresh', and only there")
        return self

    @classmethod
    def refresh(cls, now: datetime) -> PollRequest:
        """Poll every feed of the partition this request is sent to."""
        return cls(feed_id=REFRESH_ALL, reason="refresh", requested_at=now)


def subscribe(
    existing: FeedState | None, event: FeedSubscribed, *, partition: int, now: datetime
) -> FeedState:
    """A (re)subscription. An existing feed keeps its seen ids and validators (no re-emission);
    a new one is due at once, for its baseline poll."""
    url = str(event.url)
    if existing is None:
        return FeedState(
            feed_id=event.feed_id,
            url=url,
            interval_seconds=event.interval_seconds,
            backfill=event.backfill,
            partition=partition,
            subscribed_at=event.subscribed_at,
            next_poll_at=now.timestamp(),
            paused=event.paused,
        )
    changes: dict[str, Any] = {
        "url": url,
        "interval_seconds": event.interval_seconds,
        "partition": partition,
        "active": True,
        "subscribed_at": event.subscribed_at,
        "paused": event.paused,
    }
    if event.interval_seconds != existing.interval_seconds:
        changes["effective_interval"] = None  # adapt afresh from the new interval
    if url != existing.url:  # moved: the validators belonged to the old URL
        changes.update(
            etag=None, last_modified=None, websub_hub=None, websub_topic=None, websub_lease_until=None
        )
    if not existing.baseline_done:
        changes["backfill"] = event.backfill
    if not existing.active or (existing.paused and not event.paused):
        changes["next_poll_at"] = now.timestamp()  # resumed: poll at once
        changes["failing_since"] = None  # a pause is not a failure
    else:  # a shorter interval takes effect now, not after the old, longer wait
        changes["next_poll_at"] = min(
            existing.next_poll_at, _last_poll_ts(existing, now) + event.interval_seconds
        )
    return existing.model_copy(update=changes)


def unsubscribe(existing: FeedState | None, event: FeedUnsubscribed) -> FeedState | None:
    """Stop polling, but keep the seen ids: a later re-subscription must not repeat old items."""
    if existing is None:
        return None
    return existing.model_copy(update={"active": False})


def after_success(
    state: FeedState,
    *,
    seen: list[str],
    emitted: int,
    http_status: int,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    updated: int = 0,
    fingerprints: dict[str, str] | None = None,
    policy: SchedulePolicy = DEFAULT_POLICY,
    rand: float = 0.5,
    max_age: float | None = None,
    keep_validators: bool = False,
) -> FeedState:
    """A fetched (or pushed) document was read. New or changed items make the feed poll sooner.

    `keep_validators`: a pushed body says nothing about the URL's ETag/Last-Modified."""
    interval = policy.adapt(
        state.interval_seconds, state.effective_interval, changed=bool(emitted or updated)
    )
    update: dict[str, Any] = {
        "baseline_done": True,
        "seen": seen,
        "items_emitted": state.items_emitted + emitted,
        "items_updated": state.items_updated + updated,
        **_polled(state, "ok", http_status, now),
        "last_success_at": now,
        "effective_interval": interval,
        "next_poll_at": now.timestamp() + _delay(state.interval_seconds, interval, policy, rand, max_age),
    }
    if not keep_validators:
        update.update(etag=etag, last_modified=last_modified)
    if fingerprints is not None:
        update["fingerprints"] = fingerprints
    return state.model_copy(update=update)


def after_not_modified(
    state: FeedState,
    *,
    http_status: int,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    policy: SchedulePolicy = DEFAULT_POLICY,
    rand: float = 0.5,
    max_age: float | None = None,
) -> FeedState:
    interval = policy.adapt(state.interval_seconds, state.effective_interval, changed=False)
    return state.model_copy(
        update={
            "etag": etag or state.etag,
            "last_modified": last_modified or state.last_modified,
            **_polled(state, "not_modified", http_status, now),
            "last_success_at": now,
            "effective_interval": interval,
            "next_poll_at": now.timestamp() + _delay(state.interval_seconds, interval, policy, rand, max_age),
        }
    )


def _delay(base: float, interval: float, policy: SchedulePolicy, rand: float, max_age: float | None) -> float:
    _, high = policy.bounds(base)
    return honour_hint(policy.spread(interval, rand), max_age, cap=max(high, interval))


def after_error(
    state: FeedState,
    *,
    kind: str,
    reason: str,
    http_status: int | None,
    now: datetime,
    seen: list[str] | None = None,
    fingerprints: dict[str, str] | None = None,
    policy: SchedulePolicy = DEFAULT_POLICY,
    rand: float = 0.5,
    retry_after: float | None = None,
) -> FeedState:
    """An error: recorded, the feed retried later with exponential backoff (at least the
    server's Retry-After), and marked broken once it has failed for `policy.broken_after`.

    `seen` is given when some items were published before the error (they stay seen)."""
    failures = state.consecutive_failures + 1
    delay = policy.spread(policy.backoff(float(state.interval_seconds), failures), rand)
    delay = honour_hint(delay, retry_after, cap=max(policy.max_backoff, float(state.interval_seconds)))
    failing_since = state.failing_since or now
    update: dict[str, Any] = {
        **_polled(state, "error", http_status, now),
        "consecutive_failures": failures,
        "last_error_kind": kind,
        "last_error": reason,
        "failing_since": failing_since,
        "broken": state.broken or (now - failing_since).total_seconds() >= policy.broken_after,
        "next_poll_at": now.timestamp() + delay,
    }
    if seen is not None:
        update["seen"] = seen
    if fingerprints is not None:
        update["fingerprints"] = fingerprints
    return state.model_copy(update=update)


def only_timing_changed(before: FeedState, after: FeedState) -> bool:
    """A routine poll: a 304 after a healthy poll changed nothing a restart needs (validators,
    seen window, health, subscription), only when the feed was polled and when it is due again.

    Such a state need not reach the changelog at once: lost in a crash, the feed is polled a
    little early, conditionally, and gets another 304. Most polls of a council's feeds are these."""
    return (
        after.last_outcome == "not_modified"
        and before.last_outcome in ("ok", "not_modified")
        and before.consecutive_failures == 0
        and not before.broken
        and after.etag == before.etag
        and after.last_modified == before.last_modified
        and after.seen is before.seen
        and after.fingerprints is before.fingerprints
        and after.url == before.url
        and after.active == before.active
        and after.paused == before.paused
    )


def status_change(before: FeedState, after: FeedState) -> Literal["broken", "healthy"] | None:
    """What to announce on the feed-health topic after a poll, if anything."""
    if after.broken and not before.broken:
        return "broken"
    if before.broken and not after.broken:
        return "healthy"
    return None


def moved(state: FeedState, new_url: str) -> FeedState:
    """A permanent redirect: poll the new URL from now on (the FeedSubscribed announcing it
    follows on herald.feeds and lands here again, changing nothing more)."""
    return state.model_copy(update={"url": new_url})


def websub_requested(
    state: FeedState, *, hub: str, topic: str, lease_seconds: int, now: datetime
) -> FeedState:
    """A subscription was asked of the hub; until the hub confirms, assume the lease we asked for."""
    return state.model_copy(
        update={
            "websub_hub": hub,
            "websub_topic": topic,
            "websub_requested_at": now,
            "websub_lease_until": datetime.fromtimestamp(now.timestamp() + lease_seconds, tz=now.tzinfo),
        }
    )


def websub_granted(state: FeedState, *, lease_seconds: int, now: datetime) -> FeedState:
    return state.model_copy(
        update={"websub_lease_until": datetime.fromtimestamp(now.timestamp() + lease_seconds, tz=now.tzinfo)}
    )


def _polled(state: FeedState, outcome: PollOutcome, http_status: int | None, now: datetime) -> dict[str, Any]:
    update: dict[str, Any] = {
        "generation": state.generation + 1,
        "last_outcome": outcome,
        "last_http_status": http_status,
        "last_polled_at": now,
    }
    if outcome != "error":
        update.update(consecutive_failures=0, failing_since=None, broken=False)
    return update


def _last_poll_ts(state: FeedState, now: datetime) -> float:
    return state.last_polled_at.timestamp() if state.last_polled_at else now.timestamp()


def utcnow() -> datetime:
    return datetime.now(UTC)
