"""Per-platform handle rules and canonical profile URLs. Pure: tested with plain strings.

`canonical(platform, text)` accepts what people paste (a bare handle, `@handle`, a profile URL) and
returns the one form the directory stores, so the same account typed two ways is one account:
X, Instagram, Threads, TikTok and Flickr keep a bare handle; Mastodon `@user@host`; Bluesky a
lower-case domain handle; Facebook, YouTube and LinkedIn a profile URL. Refusals never quote the
input: they end up on a year-long topic, and a handle is personal data.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

_DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]")
_X = re.compile(r"[A-Za-z0-9_]{1,15}")
_MASTODON_USER = re.compile(r"[A-Za-z0-9_]{1,30}")
_INSTAGRAM = re.compile(r"[A-Za-z0-9_.]{1,30}")
_TIKTOK = re.compile(r"[A-Za-z0-9_.]{2,24}")
_FLICKR = re.compile(r"[A-Za-z0-9_@-]{1,40}")
_FACEBOOK = re.compile(r"[A-Za-z0-9.]{5,50}")
_YOUTUBE = re.compile(r"[A-Za-z0-9_.-]{3,30}")
_YOUTUBE_CHANNEL = re.compile(r"UC[A-Za-z0-9_-]{22}")
_LINKEDIN = re.compile(r"[A-Za-z0-9-]{3,100}")

RULES = {
    "x": "an X handle is 1–15 letters, digits or underscores (a leading @ or an x.com URL is allowed)",
    "mastodon": "a Mastodon handle is @user@host (or https://host/@user)",
    "bluesky": "a Bluesky handle is a domain such as name.bsky.social",
    "facebook": "a Facebook account is facebook.com/<name of 5–50 letters, digits or dots>",
    "instagram": "an Instagram handle is 1–30 letters, digits, dots or underscores",
    "linkedin": "a LinkedIn account is linkedin.com/in/<3–100 letters, digits or hyphens>",
    "youtube": "a YouTube account is youtube.com/@<handle> or youtube.com/channel/UC…",
    "flickr": "a Flickr account is 1–40 letters, digits, _, @ or -",
    "threads": "a Threads handle is 1–30 letters, digits, dots or underscores",
    "tiktok": "a TikTok handle is 2–24 letters, digits, dots or underscores",
}


class InvalidHandle(ValueError):
    """A handle the platform would not accept; `reason` states the rule (never the input)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Canonical:
    handle: str
    url: str


def handle_key(platform: str, handle: str) -> tuple[str, str]:
    """Uniqueness key: one holder per platform and handle, compared case-insensitively."""
    return (platform, handle.casefold())


def canonical(platform: str, text: str) -> Canonical:
    """The stored handle and profile URL, or `InvalidHandle` naming the platform's rule."""
    value = text.strip()
    found = _PARSERS[platform](value) if platform in _PARSERS else None
    if found is None:
        raise InvalidHandle(RULES.get(platform, f"unknown platform {platform!r}"))
    return found


def _path_of(value: str, hosts: tuple[str, ...]) -> str | None:
    """The URL's path without slashes if `value` is an http(s) URL on one of `hosts`."""
    if not re.match(r"https?://", value, re.IGNORECASE):
        return None
    parts = urlsplit(value)
    host = (parts.hostname or "").lower()
    return parts.path.strip("/") if any(host == h or host.endswith("." + h) for h in hosts) else ""


def _simple(
    pattern: re.Pattern[str],
    hosts: tuple[str, ...],
    url: str,
    *,
    lower: bool,
    at_path: bool,
    prefix: str = "",
) -> Callable[[str], Canonical | None]:
    """A platform whose handle is one path segment of its profile URL."""

    def parse(value: str) -> Canonical | None:
        path = _path_of(value, hosts)
        name = value if path is None else path.removeprefix(prefix)
        if at_path or path is None:
            name = name.removeprefix("@")
        if not pattern.fullmatch(name):
            return None
        name = name.lower() if lower else name
        return Canonical(name, url.format(name))

    return parse


def _mastodon(value: str) -> Canonical | None:
    if re.match(r"https?://", value, re.IGNORECASE):
        parts = urlsplit(value)
        user, host = parts.path.strip("/").removeprefix("@"), (parts.hostname or "").lower()
        if not parts.path.strip("/").startswith("@"):
            return None
    else:
        user, _, host = value.removeprefix("@").partition("@")
        host = host.lower()
    if not _MASTODON_USER.fullmatch(user) or not _DOMAIN.fullmatch(host):
        return None
    return Canonical(f"@{user}@{host}", f"https://{host}/@{user}")


def _bluesky(value: str) -> Canonical | None:
    path = _path_of(value, ("bsky.app",))
    name = value.removeprefix("@") if path is None else path.removeprefix("profile/")
    name = name.lower()
    if not _DOMAIN.fullmatch(name):
        return None
    return Canonical(name, f"https://bsky.app/profile/{name}")


def _facebook(value: str) -> Canonical | None:
    path = _path_of(value, ("facebook.com", "fb.com"))
    if path is not None and "?" not in value:
        name = path
    elif path is not None:
        query = urlsplit(value).query
        match = re.fullmatch(r"id=(\d{5,20})", query)
        if match is None:
            return None
        url = f"https://www.facebook.com/profile.php?id={match[1]}"
        return Canonical(url, url)
    else:
        name = value
    if not _FACEBOOK.fullmatch(name):
        return None
    url = f"https://www.facebook.com/{name.lower()}"
    return Canonical(url, url)


def _youtube(value: str) -> Canonical | None:
    path = _path_of(value, ("youtube.com",))
    name = value if path is None else path
    if name.startswith("channel/") and _YOUTUBE_CHANNEL.fullmatch(name.removeprefix("channel/")):
        url = f"https://www.youtube.com/{name}"
        return Canonical(url, url)
    name = name.removeprefix("@")
    if not _YOUTUBE.fullmatch(name):
        return None
    url = f"https://www.youtube.com/@{name.lower()}"
    return Canonical(url, url)


def _linkedin(value: str) -> Canonical | None:
    path = _path_of(value, ("linkedin.com",))
    if path is not None and not path.startswith("in/"):
        return None
    name = value if path is None else path.removeprefix("in/")
    if not _LINKEDIN.fullmatch(name):
        return None
    url = f"https://www.linkedin.com/in/{name.lower()}"
    return Canonical(url, url)


_PARSERS: dict[str, Callable[[str], Canonical | None]] = {
    "x": _simple(_X, ("x.com", "twitter.com"), "https://x.com/{}", lower=False, at_path=False),
    "instagram": _simple(
        _INSTAGRAM, ("instagram.com",), "https://www.instagram.com/{}/", lower=True, at_path=False
    ),
    "threads": _simple(
        _INSTAGRAM, ("threads.net", "threads.com"), "https://www.threads.net/@{}", lower=True, at_path=True
    ),
    "tiktok": _simple(_TIKTOK, ("tiktok.com",), "https://www.tiktok.com/@{}", lower=True, at_path=True),
    "flickr": _simple(
        _FLICKR,
        ("flickr.com",),
        "https://www.flickr.com/photos/{}/",
        lower=False,
        at_path=False,
        prefix="photos/",
    ),
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "facebook": _facebook,
    "youtube": _youtube,
    "linkedin": _linkedin,
}
