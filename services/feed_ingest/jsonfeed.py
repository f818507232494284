"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/): feedparser does not read it.

Validated with pydantic, leniently the way readers must be: unknown fields are ignored, a number
where a string id belongs is read as a string (the spec asks for that), and one invalid item is a
warning, not a lost feed. Pure, no I/O, thread-safe.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.feed_ingest.errors import FeedError

VERSIONS = {"https://jsonfeed.org/version/1": "json10", "https://jsonfeed.org/version/1.1": "json11"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class JsonAuthor(_Lenient):
    name: str | None = None
    url: str | None = None


class JsonAttachment(_Lenient):
    url: str
    mime_type: str = ""


class JsonHub(_Lenient):
    type: str = ""
    url: str


class JsonItem(_Lenient):
    id: str = Field(min_length=1)
    url: str | None = None
    external_url: str | None = None
    title: str | None = None
    content_html: str | None = None
    content_text: str | None = None
    summary: str | None = None
    image: str | None = None
    banner_image: str | None = None
    date_published: datetime | None = None
    date_modified: datetime | None = None
    author: JsonAuthor | None = None  # 1.0
    authors: list[JsonAuthor] = Field(default_factory=list)  # 1.1
    tags: list[str] = Field(default_factory=list)
    attachments: list[JsonAttachment] = Field(default_factory=list)

    @field_validator("date_published", "date_modified", mode="after")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("date_published", "date_modified", mode="wrap")
    @classmethod
    def _bad_date_is_none(cls, value: Any, handler: Any) -> datetime | None:
        try:
            return handler(value)
        except ValidationError:
            return None  # a bad date must not lose the item

    @field_validator("tags", "authors", "attachments", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return value if isinstance(value, list) else []


class JsonFeed(_Lenient):
    version: str
    title: str = ""
    home_page_url: str | None = None
    feed_url: str | None = None
    author: JsonAuthor | None = None
    authors: list[JsonAuthor] = Field(default_factory=list)
    hubs: list[JsonHub] = Field(default_factory=list)
    items: list[Any] = Field(default_factory=list)


def looks_like_json(body: bytes, content_type: str | None = None) -> bool:
    """By the bytes, not the Content-Type: servers label XML as JSON and JSON as text/plain; a
    document starting with `{` cannot be XML."""
    return body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_json_feed(body: bytes) -> tuple[JsonFeed, list[JsonItem], list[str]]:
    """The feed, its valid items (document order) and a warning per item skipped."""
    try:
        data = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        raise FeedError("malformed", f"not a readable JSON Feed: {exc}") from None
    if not isinstance(data, dict) or str(data.get("version", "")) not in VERSIONS:
        version = data.get("version") if isinstance(data, dict) else None
        raise FeedError("malformed", f"not a JSON Feed 1.0/1.1 document (version: {version!r})")
    try:
        feed = JsonFeed.model_validate(data)
    except ValidationError as exc:
        raise FeedError("malformed", f"invalid JSON Feed: {exc.errors()[0]['msg']}") from None
    items: list[JsonItem] = []
    warnings: list[str] = []
    for index, raw in enumerate(feed.items):
        try:
            items.append(JsonItem.model_validate(raw))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "item"
            warnings.append(f"JSON Feed item {index} skipped: {where}: {error['msg']}")
    return feed, items, warnings
