"""Fetching an item's images for upload: vetted addresses, a size cap, images only.

An image URL comes from a feed, so it is as untrusted as the feed: it is fetched through
`shared.netsafety` exactly like a feed (http/https only, never an address inside the council's
networks or a cloud metadata service, checked on the address connected to and on every redirect
hop) unless `HERALD_ALLOW_PRIVATE_NETWORKS=1`. A feed's image can be anything (a 40 MB TIFF, an
HTML error page): the cap is enforced while streaming, so a large body is never read whole, and a
failure is a short reason the channel puts in its result's notes — an image never stops a post.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import aiohttp

from shared.netsafety import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    AddressPolicy,
    UnsafeURL,
    VettingResolver,
    split_url,
    vetted_session,
)

#: X and Mastodon both take images up to 5 MB (8-16 MB on newer Mastodon); Bluesky blobs ~1 MB.
DEFAULT_MAX_IMAGE_BYTES = 5 * 1024 * 1024
_ALLOWED_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


class ImageError(Exception):
    """The image could not be had; the message is the reason, on one line."""


@dataclass(frozen=True)
class Image:
    url: str
    content: bytes
    content_type: str

    @property
    def filename(self) -> str:
        name = urlsplit(self.url).path.rsplit("/", 1)[-1]
        return name or "image." + self.content_type.split("/")[-1]


async def fetch_image(
    url: str,
    *,
    max_bytes: int = DEFAULT_MAX_IMAGE_BYTES,
    timeout: float = 20.0,
    allow_private_networks: bool = False,
) -> Image:
    """GET `url`; raise ImageError unless it is an image (JPEG, PNG, GIF, WebP) of at most
    `max_bytes` on an address Herald may fetch."""
    vetting = VettingResolver(AddressPolicy(allow_private_networks))
    try:
        async with vetted_session(vetting, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            current = url
            for _hop in range(MAX_REDIRECTS + 1):
                split_url(current)  # http(s) with a host; the address is vetted on connect
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in REDIRECT_STATUSES and "location" in response.headers:
                        current = urljoin(current, response.headers["location"].strip())
                        continue
                    return await _read_image(response, current, max_bytes)
            raise ImageError(f"image {url}: more than {MAX_REDIRECTS} redirects")
    except UnsafeURL as exc:
        raise ImageError(f"image {url} refused: {exc.reason}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ImageError(f"cannot fetch image {url}: {type(exc).__name__}: {exc}") from None


async def _read_image(response: aiohttp.ClientResponse, url: str, max_bytes: int) -> Image:
    if response.status != 200:
        raise ImageError(f"image {url} answered {response.status}")
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in _ALLOWED_TYPES:
        raise ImageError(f"image {url} is {content_type or 'of no type'}, not an image")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ImageError(f"image {url} is {declared} bytes, more than {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ImageError(f"image {url} is more than {max_bytes} bytes")
        chunks.append(chunk)
    if not size:
        raise ImageError(f"image {url} is empty")
    return Image(url=url, content=b"".join(chunks), content_type=content_type)
