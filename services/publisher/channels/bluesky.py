"""Bluesky as one account, through the `atproto` SDK's AsyncClient against a configurable PDS.

- Session: `com.atproto.server.createSession` with the handle and an app password (on first use;
  the SDK refreshes the access JWT itself; an expired session is recreated once).
- Post: `com.atproto.repo.createRecord` of an `app.bsky.feed.post` whose links are *facets* —
  byte ranges of the UTF-8 text (not character indices: "Café https://…" starts its link at byte
  6, character 5) — with an `app.bsky.embed.external` card (uri, title, description, and a thumb
  uploaded with `uploadBlob` when the item has an image that fetches).
- Rate limits: the PDS's `ratelimit-limit/-remaining/-reset` (epoch seconds) headers, read from
  every answer through an httpx response hook on the SDK's own request object.
- `find_recent(link)`: `com.atproto.repo.listRecords` of the account's latest posts; one whose
  card or link facet is `link`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from atproto_client import AsyncClient, models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.request import AsyncRequest
from pydantic import SecretStr

from services.publisher.channels.base import (
    BLUESKY_LIMITS,
    ChannelLimits,
    OutgoingPost,
    PermanentPostError,
    PostResult,
    RateLimit,
    RetryGuard,
    TransientPostError,
    prefixed_rate_limit,
    same_link,
)
from services.publisher.channels.media import ImageError, fetch_image
from services.publisher.text import extract_urls

log = logging.getLogger(__name__)

DEFAULT_PDS = "https://bsky.social"
POST_COLLECTION = "app.bsky.feed.post"
MAX_THUMB_BYTES = 1_000_000  # app.bsky.embed.external#external thumb maxSize
RECENT_RECORDS = 50


def link_facets(text: str) -> list[models.AppBskyRichtextFacet.Main]:
    """A link facet for every http(s) URL in `text`, indexed by UTF-8 byte offsets."""
    facets = []
    for start, end in extract_urls(text):
        uri = text[start:end]
        if not uri.lower().startswith(("http://", "https://")):
            continue
        byte_start = len(text[:start].encode("utf-8"))
        byte_end = byte_start + len(uri.encode("utf-8"))
        facets.append(
            models.AppBskyRichtextFacet.Main(
                features=[models.AppBskyRichtextFacet.Link(uri=uri)],
                index=models.AppBskyRichtextFacet.ByteSlice(byte_start=byte_start, byte_end=byte_end),
            )
        )
    return facets


def rate_limit_from(headers: Any) -> RateLimit | None:
    return prefixed_rate_limit(headers, "ratelimit-")


class BlueskyChannel:
    """One Bluesky account (handle + app password) on one PDS."""

    name = "bluesky"
    limits: ChannelLimits = BLUESKY_LIMITS
    can_find_recent = True
    retry_guard = RetryGuard.NONE

    def __init__(
        self,
        *,
        account: str,
        handle: str,
        app_password: SecretStr,
        base_url: str = DEFAULT_PDS,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        max_image_bytes: int = MAX_THUMB_BYTES,
        allow_private_networks: bool = False,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ValueError(f"Bluesky PDS URL must be http(s)://host, got {base_url!r}")
        self.account = account
        self.handle = handle
        self.base_url = base_url.rstrip("/")
        self._password = app_password
        self._verify: bool | str = ca_bundle or True
        self._timeout = timeout
        self._max_image_bytes = max_image_bytes
        # Image URLs come from feeds: fetched only from public addresses unless allowed.
        self._allow_private_networks = allow_private_networks
        self._client: AsyncClient | None = None
        self._did: str | None = None
        self._last_headers: httpx.Headers | None = None

    async def _session(self) -> AsyncClient:
        if self._client is None:
            request = AsyncRequest(
                timeout=self._timeout,
                verify=self._verify,
                event_hooks={"response": [self._remember_headers]},
            )
            self._client = AsyncClient(base_url=self.base_url, request=request)
            self._client.on_session_change(self._on_session)
        if self._did is None:
            await self._call(
                self._client.login(self.handle, self._password.get_secret_value(), fetch_bsky_profile=False),
                what="createSession",
            )
            if not self._did:
                raise TransientPostError("Bluesky created a session without a DID", code="bad_response")
        return self._client

    def _on_session(self, event: Any, session: Any) -> None:
        self._did = session.did

    async def _remember_headers(self, response: httpx.Response) -> None:
        self._last_headers = response.headers

    async def post(self, outgoing: OutgoingPost) -> PostResult:
        try:
            return await self._post(outgoing)
        except PermanentPostError as exc:
            if exc.code != "expired_session":
                raise
            self._did = None  # the session died under us: one fresh createSession, then once more
            return await self._post(outgoing)

    async def _post(self, outgoing: OutgoingPost) -> PostResult:
        client = await self._session()
        notes: list[str] = []
        embed = None
        thumb = None
        if outgoing.link:
            if outgoing.image_urls:
                try:
                    image = await fetch_image(
                        outgoing.image_urls[0],
                        max_bytes=self._max_image_bytes,
                        allow_private_networks=self._allow_private_networks,
                    )
                    # The SDK would send `*/*`; the PDS records the blob's type from the header.
                    upload = client.com.atproto.repo.upload_blob(
                        image.content, headers={"Content-Type": image.content_type}
                    )
                    uploaded = await self._call(upload, what="uploadBlob")
                    thumb = uploaded.blob
                except (ImageError, TransientPostError, PermanentPostError) as exc:
                    notes.append(f"card image not attached: {exc}")
                    log.warning("%s:%s: card image not attached: %s", self.name, self.account, exc)
            embed = models.AppBskyEmbedExternal.Main(
                external=models.AppBskyEmbedExternal.External(
                    uri=outgoing.link,
                    title=outgoing.title or outgoing.link,
                    description=outgoing.description or "",
                    thumb=thumb,
                )
            )
        record = models.AppBskyFeedPost.Record(
            text=outgoing.text,
            created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            facets=link_facets(outgoing.text) or None,
            embed=embed,
        )
        created = await self._call(
            client.com.atproto.repo.create_record(
                models.ComAtprotoRepoCreateRecord.Data(
                    repo=self._did, collection=POST_COLLECTION, record=record
                )
            ),
            what="createRecord",
            maybe_sent=True,
        )
        return PostResult(
            post_id=created.uri,
            post_url=self._web_url(created.uri),
            rate_limit=rate_limit_from(self._last_headers),
            media_ids=(_blob_cid(thumb),) if thumb is not None else (),
            notes=tuple(notes),
        )

    async def find_recent(self, link: str) -> PostResult | None:
        client = await self._session()
        page = await self._call(
            client.com.atproto.repo.list_records(
                models.ComAtprotoRepoListRecords.Params(
                    repo=self._did, collection=POST_COLLECTION, limit=RECENT_RECORDS
                )
            ),
            what="listRecords",
        )
        for record in page.records:
            value = record.value
            if _links_of(value, link):
                return PostResult(
                    post_id=record.uri,
                    post_url=self._web_url(record.uri),
                    rate_limit=rate_limit_from(self._last_headers),
                    notes=("found among the account's recent posts",),
                )
        return None

    def _web_url(self, at_uri: str) -> str:
        rkey = at_uri.rsplit("/", 1)[-1]
        return f"https://bsky.app/profile/{self.handle}/post/{rkey}"

    async def _call(self, request: Any, *, what: str, maybe_sent: bool = False) -> Any:
        """Await an SDK call, mapping its exceptions onto the channel errors with the PDS's reason."""
        try:
            return await request
        except RateLimitExceededError as exc:
            reset = exc.reset_at.timestamp() if exc.reset_at else None
            raise TransientPostError(
                f"rate limited: {_reason(exc, what)}",
                code="rate_limited",
                retry_at=reset,
                retry_after=exc.retry_after if reset is None else None,
                rate_limit=rate_limit_from(exc.response.headers if exc.response else None),
            ) from exc
        except UnauthorizedError as exc:
            raise PermanentPostError(f"Bluesky refused the login: {_reason(exc, what)}", code="auth") from exc
        except BadRequestError as exc:
            error = _error_name(exc)
            if error in ("ExpiredToken", "InvalidToken"):
                raise PermanentPostError(_reason(exc, what), code="expired_session") from exc
            if error == "AuthenticationRequired":
                raise PermanentPostError(
                    f"Bluesky refused the login: {_reason(exc, what)}", code="auth"
                ) from exc
            raise PermanentPostError(_reason(exc, what), code=f"invalid:{error or 'request'}") from exc
        except NetworkError as exc:
            if exc.response is not None:  # 409/413/502 come as NetworkError with an answer
                raise TransientPostError(_reason(exc, what), code=f"http_{exc.response.status_code}") from exc
            raise TransientPostError(
                f"no answer from Bluesky ({what}): {type(exc.__cause__ or exc).__name__}",
                code="network",
                maybe_sent=maybe_sent,
            ) from exc
        except RequestErrorBase as exc:
            status = exc.response.status_code if exc.response else 0
            if status >= 500:
                raise TransientPostError(_reason(exc, what), code=f"http_{status}") from exc
            raise PermanentPostError(_reason(exc, what), code=f"http_{status}") from exc
        except AtProtocolError as exc:  # a model the SDK could not parse, and the like
            raise TransientPostError(
                f"Bluesky {what}: {type(exc).__name__}: {exc}", code="bad_response", maybe_sent=maybe_sent
            ) from exc

    async def close(self) -> None:
        if self._client is not None:
            await self._client.request.close()


def _links_of(value: Any, link: str) -> bool:
    """Whether a post record (SDK model or dict) carries `link` in its card or a link facet."""

    def get(obj: Any, name: str, alias: str | None = None) -> Any:
        if obj is None:
            return None
        if isinstance(obj, dict):
            return obj.get(alias or name)
        return getattr(obj, name, None)

    external = get(get(value, "embed"), "external")
    if same_link(get(external, "uri"), link):
        return True
    for facet in get(value, "facets") or []:
        for feature in get(facet, "features") or []:
            if same_link(get(feature, "uri"), link):
                return True
    return link in (get(value, "text") or "")


def _blob_cid(blob: Any) -> str:
    ref = getattr(blob, "ref", None)
    return str(getattr(ref, "link", None) or ref)


def _error_name(exc: RequestErrorBase) -> str | None:
    content = exc.response.content if exc.response else None
    return getattr(content, "error", None)


def _reason(exc: RequestErrorBase, what: str) -> str:
    response = exc.response
    if response is None:
        return f"{what}: {type(exc).__name__}"
    content = response.content
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    words = ": ".join(part for part in (error, message) if part) or str(content)[:200]
    return f"{response.status_code} {what}: {' '.join(str(words).split())}"
