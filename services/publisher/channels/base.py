"""The one small interface every channel speaks, its typed errors, and what a post carries.

A channel is one account on one service. It takes an `OutgoingPost` (already rendered to fit its
`limits`) and answers with a `PostResult`, or raises one of three errors the publisher treats
differently: `TransientPostError` (retry later: 5xx, network, 429 — with the service's reset time
when it gave one), `PermanentPostError` (never retry: auth, invalid; the service's own reason),
`DuplicatePostError` (the service already has this text: final). Rate-limit figures read from the
service's headers ride on results and errors alike (`RateLimit`), so flow control can space posts
before the service refuses them (issue 4, point 4).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from services.publisher.lengths import BLUESKY_LIMIT, FACEBOOK_LIMIT, MASTODON_LIMIT
from services.publisher.text import MAX_WEIGHTED_LENGTH

if TYPE_CHECKING:
    from shared.events import FeedItemDiscovered


@dataclass(frozen=True)
class ChannelLimits:
    """A service's length limit and how many images a post may carry. The length rule itself (how
    the service counts) is `services.publisher.lengths`', which these limits take their numbers from."""

    max_length: int
    max_images: int = 0


X_LIMITS = ChannelLimits(max_length=MAX_WEIGHTED_LENGTH, max_images=4)
MASTODON_LIMITS = ChannelLimits(max_length=MASTODON_LIMIT, max_images=4)
BLUESKY_LIMITS = ChannelLimits(max_length=BLUESKY_LIMIT, max_images=1)
FACEBOOK_LIMITS = ChannelLimits(max_length=FACEBOOK_LIMIT)
WEBHOOK_LIMITS = ChannelLimits(max_length=FACEBOOK_LIMIT, max_images=4)


@dataclass(frozen=True)
class RateLimit:
    """What the service's headers said about this account's budget (None: it did not say)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds


@dataclass(frozen=True)
class OutgoingPost:
    """One rendered post for one account. `idempotency_key` is the ledger key (stable per item and
    account), sent where the service supports it (Mastodon's Idempotency-Key, webhooks)."""

    text: str
    idempotency_key: str
    link: str | None = None
    title: str | None = None
    description: str = ""
    image_urls: tuple[str, ...] = ()
    item_id: str | None = None

    @classmethod
    def from_item(cls, text: str, item: FeedItemDiscovered, *, idempotency_key: str) -> OutgoingPost:
        return cls(
            text=text,
            idempotency_key=idempotency_key,
            link=item.link,
            title=item.title,
            description=item.summary[:300],
            image_urls=tuple(item.image_urls),
            item_id=item.item_id,
        )


@dataclass(frozen=True)
class PostResult:
    """The channel has the post (or, for `find_recent`, had it already)."""

    post_id: str
    post_url: str | None
    dry_run: bool = False
    rate_limit: RateLimit | None = None
    media_ids: tuple[str, ...] = ()
    #: Things worth telling a person, e.g. "image not attached: 413 too large".
    notes: tuple[str, ...] = field(default=())

    @property
    def rate_limit_remaining(self) -> int | None:
        return self.rate_limit.remaining if self.rate_limit else None

    @property
    def rate_limit_reset_at(self) -> float | None:
        return self.rate_limit.reset_at if self.rate_limit else None


class PostError(Exception):
    """A post did not go out; `code` is short and machine-readable, `reason` the service's words."""

    def __init__(self, reason: str, *, code: str, rate_limit: RateLimit | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.rate_limit = rate_limit


class TransientPostError(PostError):
    """Worth retrying. `retry_at` (epoch seconds) when the service said when — a rate-limit reset or
    a Retry-After; `retry_after` the same as seconds from when the error was made. `maybe_sent` when
    the request may have reached the service (a timeout or a dropped connection, no answer)."""

    def __init__(
        self,
        reason: str,
        *,
        code: str,
        retry_at: float | None = None,
        retry_after: float | None = None,
        maybe_sent: bool = False,
        rate_limit: RateLimit | None = None,
    ) -> None:
        super().__init__(reason, code=code, rate_limit=rate_limit)
        now = time.time()
        if retry_at is None and retry_after is not None:
            retry_at = now + retry_after
        if retry_after is None and retry_at is not None:
            retry_after = max(0.0, retry_at - now)
        self.retry_at = retry_at
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent

    @property
    def reset_at(self) -> float | None:
        return self.retry_at


class PermanentPostError(PostError):
    """Retrying cannot help (bad credentials, forbidden, invalid text)."""


class DuplicatePostError(PermanentPostError):
    """The service refuses the text as a duplicate of a post it already has."""


class RetryGuard(StrEnum):
    """What makes a second call safe when the first one's result is unknown (docs/adr/0011).

    `DUPLICATE_REFUSAL`: the service refuses the same text again (X's 403 duplicate), so a retry
    cannot make a second post; `IDEMPOTENCY_KEY`: it answers a retried request with the same key
    as the first (Mastodon's `Idempotency-Key`); `OWN_RECORD`: the lookup reads where the post
    is written, so "not found" means it is not there (the outbox file); `NONE`: nothing (Facebook,
    a generic webhook) — a person decides."""

    DUPLICATE_REFUSAL = "duplicate_refusal"
    IDEMPOTENCY_KEY = "idempotency_key"
    OWN_RECORD = "own_record"
    NONE = "none"


@runtime_checkable
class Channel(Protocol):
    """One account on one service."""

    @property
    def name(self) -> str:
        """The channel kind: x, mastodon, bluesky, facebook, webhook, outbox."""
        ...

    @property
    def account(self) -> str: ...

    @property
    def limits(self) -> ChannelLimits: ...

    @property
    def retry_guard(self) -> RetryGuard:
        """What makes a retry safe after a call whose result is unknown."""
        ...

    @property
    def can_find_recent(self) -> bool:
        """Whether `find_recent` can look at the account's timeline (else it always says None)."""
        ...

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        """Publish `outgoing`, or raise one of the typed errors above."""
        ...

    async def find_recent(self, link: str) -> PostResult | None:
        """The account's recent post carrying `link`, if any; None also means "cannot tell"
        (see `can_find_recent`)."""
        ...

    async def close(self) -> None: ...


def same_link(a: str | None, b: str | None) -> bool:
    """Links compared the way services echo them back (scheme/host case, a trailing slash)."""
    if not a or not b:
        return False

    def norm(url: str) -> str:
        url = url.strip()
        scheme, sep, rest = url.partition("://")
        if sep:
            host, slash, path = rest.partition("/")
            url = f"{scheme.lower()}://{host.lower()}{slash}{path}"
        return url.rstrip("/")

    return norm(a) == norm(b)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """An API answer's JSON object, or {} when the body is not one (error pages, empty bodies)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def header_int(value: Any) -> int | None:
    """A numeric header as int, or None when absent or not a number."""
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def header_float(value: Any) -> float | None:
    """A numeric header as float, or None when absent or not a number."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def prefixed_rate_limit(headers: Any, prefix: str) -> RateLimit | None:
    """`<prefix>limit`, `<prefix>remaining`, `<prefix>reset` (epoch seconds), as X and Bluesky send."""
    if not headers or headers.get(f"{prefix}remaining") is None:
        return None
    return RateLimit(
        limit=header_int(headers.get(f"{prefix}limit")),
        remaining=header_int(headers.get(f"{prefix}remaining")),
        reset_at=header_float(headers.get(f"{prefix}reset")),
    )
