"""Fetching an item's images for upload: httpx, a size cap, images only.

A feed's image can be anything (a 40 MB TIFF, an HTML error page): the cap is enforced while
streaming, so a large body is never read whole, and a failure is a short reason the channel puts
in its result's notes — an image never stops a post.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

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
    url: str, *, max_bytes: int = DEFAULT_MAX_IMAGE_BYTES, timeout: float = 20.0, verify: bool | str = True
) -> Image:
    """GET `url`; raise ImageError unless it is an image (JPEG, PNG, GIF, WebP) of at most `max_bytes`."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ImageError(f"not an http(s) image URL: {url[:200]}")
    try:
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=True, verify=verify) as client:
            async with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise ImageError(f"image {url} answered {response.status_code}")
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type not in _ALLOWED_TYPES:
                    raise ImageError(f"image {url} is {content_type or 'of no type'}, not an image")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise ImageError(f"image {url} is {declared} bytes, more than {max_bytes}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise ImageError(f"image {url} is more than {max_bytes} bytes")
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ImageError(f"cannot fetch image {url}: {type(exc).__name__}: {exc}") from exc
    if not size:
        raise ImageError(f"image {url} is empty")
    return Image(url=url, content=b"".join(chunks), content_type=content_type)
