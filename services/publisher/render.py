"""Item → post text. Pure: the same item always renders to the same text (a retry or a
redelivery sends exactly what the ledger recorded as intended)."""

from __future__ import annotations

import regex

from services.publisher.text import MAX_WEIGHTED_LENGTH, measure, truncate
from shared.events import FeedItemDiscovered


class RenderError(ValueError):
    """The item cannot become a post (nothing to say, or its link alone is too long)."""


def clean_title(title: str) -> str:
    """Feed titles carry newlines and runs of spaces; a post wants one line."""
    return regex.sub(r"\s+", " ", title).strip()


def render_post(item: FeedItemDiscovered, *, limit: int = MAX_WEIGHTED_LENGTH) -> str:
    """`title link`, fitting X's weighted limit: the title is shortened at a word boundary with an
    ellipsis; the link is never cut (X counts it as 23 whatever its length)."""
    title = clean_title(item.title)
    link = (item.link or "").strip()
    if not title and not link:
        raise RenderError("item has neither a title nor a link")
    if not link:
        text = truncate(title, limit=limit)
    elif not title:
        text = link if measure(link).valid and measure(link).weighted_length <= limit else None
    else:
        text = truncate(title, " " + link, limit=limit)
    if text is None:
        raise RenderError(f"the link alone does not fit in {limit} weighted characters")
    return text
