"""How long a post may be on each channel, measured the way that channel measures it.

- X: twitter-text's weighted length, v3 configuration, 280; a link counts 23 (`text.measure`).
- Mastodon: 500 characters, counted as grapheme clusters; a link with its protocol counts 23
  whatever its length (Mastodon's StatusLengthValidator replaces each URL with 23 characters).
- Bluesky: 300 graphemes of the text as posted (links are not shortened in the text itself).
- Facebook, webhooks, the outbox: no practical limit here (63 206 for a Page post); the outbox
  stands in for a real channel and uses that channel's rule.

Pure functions, no I/O: the renderer and `herald preview` call them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from services.publisher.text import (
    MAX_WEIGHTED_LENGTH,
    URL_WEIGHT,
    extract_urls,
    graphemes,
    measure,
    truncate,
)

MASTODON_LIMIT = 500
BLUESKY_LIMIT = 300
FACEBOOK_LIMIT = 63_206


def x_length(text: str) -> int:
    return measure(text).weighted_length


def mastodon_length(text: str) -> int:
    """Graphemes, with each link that has a protocol counting 23."""
    spans = [(start, end) for start, end in extract_urls(text) if text[start:end].lower().startswith("http")]
    pieces: list[str] = []
    links = 0
    position = 0
    for start, end in spans:
        pieces.append(text[position:start])
        links += 1
        position = end
    pieces.append(text[position:])
    return sum(len(graphemes(piece)) for piece in pieces) + links * URL_WEIGHT


def bluesky_length(text: str) -> int:
    return len(graphemes(unicodedata.normalize("NFC", text)))


@dataclass(frozen=True)
class TextRules:
    """One channel kind's length rule: `length(text)` must be at most `limit`."""

    kind: str
    limit: int
    length: Callable[[str], int]

    def fits(self, text: str) -> bool:
        if self.kind == "x":
            result = measure(text)
            return result.valid and result.weighted_length <= self.limit
        return 0 < self.length(text) <= self.limit

    def truncate(self, text: str, suffix: str = "") -> str | None:
        """`text` cut at a word boundary with an ellipsis so that `text…suffix` fits; see
        `text.truncate` (never inside a link of the suffix, a hashtag or a grapheme)."""
        return truncate(text, suffix, limit=self.limit, fits_fn=self.fits)


RULES: dict[str, TextRules] = {
    "x": TextRules("x", MAX_WEIGHTED_LENGTH, x_length),
    "mastodon": TextRules("mastodon", MASTODON_LIMIT, mastodon_length),
    "bluesky": TextRules("bluesky", BLUESKY_LIMIT, bluesky_length),
    "facebook": TextRules("facebook", FACEBOOK_LIMIT, len),
    "webhook": TextRules("webhook", FACEBOOK_LIMIT, len),
}


def rules_for(kind: str) -> TextRules:
    """The rule of a channel kind (`x`, `mastodon`, …); unknown kinds (the outbox) use X's, the
    strictest, so a dry run never shows a post that would not fit."""
    return RULES.get(kind, RULES["x"])
