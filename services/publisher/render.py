"""Item → post text for one route and channel. Pure: the same item and route always render to the
same text (a retry or a redelivery sends exactly what the ledger recorded as intended).

What gives way when a post is too long, in this order: the summary is shortened at a word
boundary (and left out if not a word of it fits), then hashtags are left out from the last one,
then the title is shortened. The link, the prefix and the suffix are never cut; every cut ends
with an ellipsis and falls between words (or graphemes, for a title without spaces).
"""

from __future__ import annotations

import regex

from services.publisher.lengths import TextRules, rules_for
from services.publisher.routing import DEFAULT_TEMPLATE, Item, Route, RouteConfig, hashtags_from, with_utm
from services.publisher.text import ELLIPSIS, MAX_WEIGHTED_LENGTH, measure, truncate
from shared.events import FeedItemDiscovered

_SENTINEL = "\x00"


class RenderError(ValueError):
    """The item cannot become a post (nothing to say, or its fixed parts alone are too long)."""


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


def _tidy(text: str) -> str:
    """Empty placeholders leave double spaces and blank edges behind: close them up."""
    lines = [regex.sub(r"[ \t]{2,}", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def _fill(template: str, values: dict[str, str]) -> str:
    return regex.sub(r"\{(title|link|summary|hashtags)\}", lambda m: values[m[1]], template)


def render_route(item: Item, route: Route | RouteConfig | None = None, kind: str | None = None) -> str:
    """The exact text for `item` on `route`'s target (or `kind`), fitting that channel's limit."""
    config = route.config if isinstance(route, Route) else route
    if kind is None:
        kind = route.kind if isinstance(route, Route) else "x"
    rules = rules_for(kind)
    template = (config.prefix if config else "") + (config.template if config else DEFAULT_TEMPLATE)
    template += config.suffix if config else ""
    title = clean_title(item.title)
    summary = clean_title(item.summary)
    link = with_utm((item.link or "").strip(), config.utm if config else {})
    tags = hashtags_from(item.tags, config.max_hashtags) if config and config.hashtags else []
    if not title and not link:
        raise RenderError("item has neither a title nor a link")

    def compose(title: str, summary: str, tags: list[str]) -> str:
        return _tidy(
            _fill(template, {"title": title, "link": link, "summary": summary, "hashtags": " ".join(tags)})
        )

    text = compose(title, summary, tags)
    if rules.fits(text):
        return text
    if summary and "{summary}" in template:
        shortened = _shrink(
            rules, template, "summary", summary, {"title": title, "link": link, "hashtags": " ".join(tags)}
        )
        if shortened is not None:
            return shortened
        summary = ""
        text = compose(title, summary, tags)
        if rules.fits(text):
            return text
    while tags:
        tags = tags[:-1]
        text = compose(title, summary, tags)
        if rules.fits(text):
            return text
    shortened = _shrink(rules, template, "title", title, {"summary": summary, "link": link, "hashtags": ""})
    if shortened is None:
        raise RenderError(
            f"the fixed parts (link, prefix, suffix) alone do not fit on {kind} ({rules.limit})"
        )
    return shortened


def _shrink(rules: TextRules, template: str, field: str, value: str, others: dict[str, str]) -> str | None:
    """Shorten one field with an ellipsis so the whole post fits; None if not one word of it fits."""
    marked = _fill(template, {**others, field: _SENTINEL})
    head, _, tail = marked.partition(_SENTINEL)
    tail = tail.replace(_SENTINEL, "")

    def fits(candidate: str) -> bool:
        return rules.fits(_tidy(head + candidate))

    result = truncate(value, tail, fits_fn=fits)
    if result is None or result.startswith(ELLIPSIS):
        return None
    return _tidy(head + result)
