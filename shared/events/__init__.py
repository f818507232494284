"""Every Herald event payload, one module per domain; `ALL_EVENTS` maps type to model.

Each module's docstring says who publishes and who consumes its events; the topic catalogue
(`shared/topics.py`) holds the same as data, and a test checks that against the code."""

from shared.envelope import EventPayload
from shared.events.directory import (
    HandleClaimed,
    StaffAccountChangeRejected,
    StaffChanged,
    StaffCommand,
    StaffErased,
    StaffMember,
)
from shared.events.feeds import FeedMoved, FeedPolled, FeedStatusChanged, FeedSubscribed, FeedUnsubscribed
from shared.events.forum import ForumAlertSent
from shared.events.items import FeedItemDiscovered, FeedItemUpdated
from shared.events.ops import ServiceError, ServiceHeartbeat
from shared.events.posts import (
    PostApproved,
    PostDecisionRequested,
    PostDropped,
    PostFailed,
    PostHeld,
    PostPublished,
)

ALL_EVENTS: dict[str, type[EventPayload]] = {
    model.event_type: model
    for model in (
        FeedSubscribed,
        FeedUnsubscribed,
        FeedPolled,
        FeedStatusChanged,
        FeedMoved,
        FeedItemDiscovered,
        FeedItemUpdated,
        PostPublished,
        PostFailed,
        PostHeld,
        PostApproved,
        PostDropped,
        PostDecisionRequested,
        StaffMember,
        StaffCommand,
        StaffChanged,
        StaffErased,
        StaffAccountChangeRejected,
        HandleClaimed,
        ForumAlertSent,
        ServiceHeartbeat,
        ServiceError,
    )
}

__all__ = [
    "ALL_EVENTS",
    "FeedItemDiscovered",
    "FeedItemUpdated",
    "FeedMoved",
    "FeedPolled",
    "FeedStatusChanged",
    "FeedSubscribed",
    "FeedUnsubscribed",
    "ForumAlertSent",
    "HandleClaimed",
    "PostApproved",
    "PostDecisionRequested",
    "PostDropped",
    "PostFailed",
    "PostHeld",
    "PostPublished",
    "ServiceError",
    "ServiceHeartbeat",
    "StaffAccountChangeRejected",
    "StaffChanged",
    "StaffCommand",
    "StaffErased",
    "StaffMember",
]
