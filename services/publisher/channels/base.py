"""The one small interface every channel speaks, its typed errors, and what a post carries.

A channel is one account on one service. It takes an `OutgoingPost` (already rendered to fit its
`limits`) and answers with a `PostResult`, or raises one of three errors the publisher treats
differently: `TransientError` (retry later: 5xx, network, 429 — with the service's reset time when
it gave one), `PermanentError` (never retry: auth, invalid; the service's own reason),
`DuplicateError` (the service already has this text: final). Rate-limit figures read from the
service's headers ride on results and errors alike (`RateLimit`), so flow control can space posts
before the service refuses them (issue 4, point 4).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from services.publisher.text import extract_urls, graphemes, measure

if TYPE_CHECKING:
    from shared.events import FeedItemDiscovered


class Counting(StrEnum):
    """How a service measures a post's length."""

    X_WEIGHTED = "x_weighted"  # twitter-text v3 weights, links 23 (services/publisher/text.py)
    GRAPHEMES_LINKS_23 = "graphemes_links_23"  # Mastodon: grapheme clusters, each http(s) link 23
    GRAPHEMES = "graphemes"  # Bluesky: grapheme clusters, links at full length
    CHARACTERS = "characters"  # Facebook, webhooks: code points (limits far above any post)


@dataclass(frozen=True)
class ChannelLimits:
    """A service's length limit, how it counts, and how many images a post may carry."""

    max_length: int
    counting: Counting
    max_images: int = 0
    link_weight: int | None = None

    def measure(self, text: str) -> int:
        """The length the service would count for `text`."""
        if self.counting is Counting.X_WEIGHTED:
            return measure(text).weighted_length
        if self.counting is Counting.GRAPHEMES_LINKS_23:
            # Mastodon counts a link (with its scheme) as 23 characters, the rest as graphemes
            # (app/validators/status_length_validator.rb: URL placeholder of 23 "x").
            weight = self.link_weight or 23
            parts: list[str] = []
            last = 0
            for start, end in extract_urls(text):
                if not text[start:end].lower().startswith(("http://", "https://")):
                    continue
                parts.append(text[last:start])
                parts.append("x" * weight)
                last = end
            parts.append(text[last:])
            return len(graphemes("".join(parts)))
        if self.counting is Counting.GRAPHEMES:
            return len(graphemes(text))
        return len(text)

    def fits(self, text: str) -> bool:
        if self.counting is Counting.X_WEIGHTED:
            result = measure(text)
            return result.valid and result.weighted_length <= self.max_length
        return 0 < self.measure(text) <= self.max_length


X_LIMITS = ChannelLimits(max_length=280, counting=Counting.X_WEIGHTED, max_images=4, link_weight=23)
MASTODON_LIMITS = ChannelLimits(
    max_length=500, counting=Counting.GRAPHEMES_LINKS_23, max_images=4, link_weight=23
)
BLUESKY_LIMITS = ChannelLimits(max_length=300, counting=Counting.GRAPHEMES, max_images=1)
FACEBOOK_LIMITS = ChannelLimits(max_length=63_206, counting=Counting.CHARACTERS)
WEBHOOK_LIMITS = ChannelLimits(max_length=100_000, counting=Counting.CHARACTERS, max_images=4)


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


def coerce_post(
    post: OutgoingPost | str, item: FeedItemDiscovered | None, *, channel: str, account: str
) -> OutgoingPost:
    """Accept the walking skeleton's `post(text, item)` call as well as `post(OutgoingPost)`."""
    if isinstance(post, OutgoingPost):
        return post
    if item is None:
        key = hashlib.sha256(post.encode()).hexdigest()[:24]
        return OutgoingPost(text=post, idempotency_key=f"{key}|{channel}:{account}")
    return OutgoingPost.from_item(post, item, idempotency_key=f"{item.item_id}|{channel}:{account}")


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


# The names issue 4 uses; the same classes.
TransientError = TransientPostError
PermanentError = PermanentPostError
DuplicateError = DuplicatePostError


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
    def can_find_recent(self) -> bool:
        """Whether `find_recent` can look at the account's timeline (else it always says None)."""
        ...

    async def post(self, post: OutgoingPost, item: FeedItemDiscovered | None = None) -> PostResult:
        """Publish; `item` only for the skeleton's `post(text, item)` form."""
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
