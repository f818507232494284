"""Operational events every service emits, for ops engineers' monitoring.

Published by: every service, to `herald.ops.heartbeat` and `herald.ops.errors`, keyed by service
name. Consumed by: `herald ops tail`, dashboards, alerting.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.envelope import EventPayload


class ServiceHeartbeat(EventPayload):
    """A worker is alive; sent on an interval and at start and stop."""

    event_type = "herald.ops.heartbeat.v1"

    service: str = Field(description="Service name, e.g. `publisher`.")
    instance: str = Field(description="Worker instance (host:pid unless configured).")
    status: Literal["starting", "ready", "stopping"] = Field(description="Lifecycle state.")
    started_at: datetime = Field(description="When the worker started, UTC.")
    uptime_seconds: float = Field(ge=0, description="Seconds since start.")
    version: str = Field(description="Herald version.")
    detail: dict[str, str] = Field(default_factory=dict, description="Service-specific facts (e.g. mode).")
    interval_seconds: float | None = Field(
        default=None, gt=0, description="Seconds to the next beat: three missed means the worker is stale."
    )
    consumer_lag: int | None = Field(
        default=None, ge=0, description="Records behind, summed over the partitions it reads (None: unknown)."
    )
    lag: dict[str, int] = Field(
        default_factory=dict, description="Records behind per partition, as `topic[partition]`."
    )
    events_handled: int | None = Field(
        default=None, ge=0, description="Records its consumers handled since start (a rate between beats)."
    )
    last_error: str | None = Field(default=None, description="The last error it reported (kind: message).")
    last_error_at: datetime | None = Field(default=None, description="When, UTC.")

    def subject(self) -> str:
        return f"{self.service}/{self.instance}"


class ServiceError(EventPayload):
    """Something went wrong that ops should see (a dead-lettered record, a failing dependency)."""

    event_type = "herald.ops.error.v1"

    service: str = Field(description="Service name.")
    instance: str = Field(description="Worker instance.")
    kind: str = Field(description="Short code, e.g. `invalid_event`, `smtp_unreachable`.")
    message: str = Field(description="One line a person can act on; never a secret.")
    topic: str | None = Field(default=None, description="Source topic of the record concerned, if any.")
    partition: int | None = Field(default=None, description="Its partition.")
    offset: int | None = Field(default=None, description="Its offset.")
    occurred_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.service
