"""The one envelope every Herald event travels in: CloudEvents 1.0, structured JSON mode.

Other teams already know CloudEvents, so Herald uses its attribute names as they are
(https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md). `type` is dotted and
versioned (`herald.feed.item.discovered.v1`); a breaking change to a payload means a new type.
On Kafka the value is the whole envelope as JSON and the `content-type` header says
`application/cloudevents+json` (the Kafka protocol binding's structured mode).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"


class EventPayload(BaseModel):
    """Base of every payload model: its CloudEvents `type` and how consumers read it.

    Consumers ignore fields they do not know, so adding an optional field never breaks them.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]

    def subject(self) -> str | None:
        """What the event is about (the CloudEvents `subject`); payloads override it."""
        return None


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope whose `data` is one Herald payload, as JSON."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents version.")
    id: str = Field(description="Unique per event; consumers de-duplicate on (source, id).")
    source: str = Field(description="URI-reference of the producer, e.g. `/herald/feed_ingest`.")
    type: str = Field(description="Dotted, versioned event type, e.g. `herald.feed.item.discovered.v1`.")
    time: datetime = Field(description="When the event happened, UTC.")
    subject: str | None = Field(default=None, description="What the event is about (item id, staff id…).")
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Media type of `data`."
    )
    data: dict[str, Any] = Field(description="The payload; its schema is named by `type`.")

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


class EventDecodeError(ValueError):
    """A Kafka record that is not a valid Herald event; `reason` is short and specific."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Event ids: random (version 4) UUIDs from the process's seeded generator. `uuid.uuid4()` asks
#: the kernel for every id, a system call per event at thousands of events a second; ids need
#: uniqueness, not secrecy.
_ids = random.Random()


#: The bits a version 4 UUID fixes: version (4) and variant (RFC 4122), as `uuid.UUID` sets them.
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_event_id() -> str:
    """A version 4 UUID in its usual text form (built directly: `str(uuid.UUID(...))` costs
    several times more, once per event)."""
    digits = "%032x" % (_ids.getrandbits(128) & _V4_CLEAR | _V4_SET)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def wrap(payload: EventPayload, *, source: str, time: datetime | None = None) -> CloudEvent:
    """Put a payload in a fresh envelope."""
    return CloudEvent(
        id=new_event_id(),
        source=source,
        type=payload.event_type,
        time=time or utcnow(),
        subject=payload.subject(),
        data=payload.model_dump(mode="json"),
    )


def encode(payload: EventPayload, *, source: str, time: datetime | None = None) -> bytes:
    """The same document as `wrap(payload, ...).to_bytes()`, without building the envelope model:
    the payload is serialised once, by its own model, and the envelope's few attributes are put
    around it. For producers that only send (thousands of events a second); `wrap` is for code
    that wants the envelope as an object."""
    when = (time or utcnow()).isoformat()
    if when.endswith("+00:00"):
        when = when[:-6] + "Z"  # as pydantic writes UTC
    head: dict[str, str] = {
        "specversion": "1.0",
        "id": new_event_id(),
        "source": source,
        "type": payload.event_type,
        "time": when,
    }
    subject = payload.subject()
    if subject is not None:
        head["subject"] = subject
    head["datacontenttype"] = "application/json"
    return orjson.dumps(head)[:-1] + b',"data":' + payload.model_dump_json().encode() + b"}"


def decode(raw: bytes | None, accepted: dict[str, type[EventPayload]]) -> tuple[CloudEvent, EventPayload]:
    """Parse and validate one record's value; raise `EventDecodeError` with the reason if it fails.

    `accepted` maps the event types this consumer handles to their models; anything else on the
    topic is an error for this consumer (it goes to the dead-letter topic, not silently dropped).
    """
    if raw is None:
        raise EventDecodeError("empty record value (tombstone) where an event was expected")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventDecodeError(f"value is not JSON: {exc}") from None
    try:
        envelope = CloudEvent.model_validate(document)
    except ValidationError as exc:
        raise EventDecodeError(f"not a CloudEvents 1.0 envelope: {_first_error(exc)}") from None
    model = accepted.get(envelope.type)
    if model is None:
        raise EventDecodeError(f"unexpected event type {envelope.type!r} (accepted: {sorted(accepted)})")
    try:
        payload = model.model_validate(envelope.data)
    except ValidationError as exc:
        raise EventDecodeError(f"invalid {envelope.type} data: {_first_error(exc)}") from None
    return envelope, payload


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "(root)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg')}{more}"
