"""Alerts to the internal Social Media Forum.

Published by: notifier to `herald.forum.alerts`, keyed by the id of the event alerted about.
Consumed by: ops and audit (what the forum was told, when, and how).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.envelope import EventPayload


class ForumAlertSent(EventPayload):
    """The forum was told about something, on one target (one event per target reached)."""

    event_type = "herald.forum.alert.sent.v1"

    alert_id: str = Field(description="Id of the alert: derived from the event, the target and the kind.")
    about_event_id: str = Field(description="CloudEvents id of the event the alert is about.")
    about_event_type: str = Field(description="CloudEvents type of that event.")
    headline: str = Field(description="The alert's one-line headline (the e-mail subject).")
    transports: list[str] = Field(
        description="The target it reached (its name in the notifier's targets file), or `log`."
    )
    sent_at: datetime = Field(description="When, UTC.")

    def subject(self) -> str:
        return self.about_event_id
