"""Social-media handle rules. Pure: no I/O, so the rules are tested with plain strings."""

from __future__ import annotations

import re

#: X (Twitter) usernames: 1–15 ASCII letters, digits or underscores
#: (https://help.x.com/en/managing-your-account/x-username-rules).
X_HANDLE = re.compile(r"[A-Za-z0-9_]{1,15}")

PLATFORM_NAMES = {
    "twitter": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "linkedin": "LinkedIn",
    "other": "other",
}


class InvalidHandle(ValueError):
    """A handle that breaks its platform's rules; `reason` quotes it and says what is allowed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_handle(platform: str, handle: str) -> str:
    """The handle as stored: without the leading @; raise `InvalidHandle` if the platform refuses it.

    Only X's rules are checked for now; other platforms need a non-empty handle without spaces.
    Case is kept (people choose it), but uniqueness is compared case-insensitively.
    """
    stripped = handle.strip()
    bare = stripped[1:] if stripped.startswith("@") else stripped
    if platform == "twitter":
        if not X_HANDLE.fullmatch(bare):
            raise InvalidHandle(
                f"invalid X handle {handle!r}: an X handle is 1–15 letters, digits or underscores"
                " (a leading @ is allowed)"
            )
        return bare
    if not bare or any(ch.isspace() for ch in bare):
        raise InvalidHandle(f"invalid {platform_name(platform)} handle {handle!r}: empty or contains spaces")
    return bare


def platform_name(platform: str) -> str:
    """What people call the platform (`twitter` is shown as X)."""
    return PLATFORM_NAMES.get(platform, platform)


def handle_key(platform: str, handle: str) -> tuple[str, str]:
    """Uniqueness key: one handle per platform, compared case-insensitively (X handles are)."""
    return (platform, handle.casefold())
