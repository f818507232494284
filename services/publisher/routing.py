"""Which channel accounts an item goes to, and how its post is worded there (issue 4, point 1).

A route (the `routes:` section of the publisher's YAML config) matches feeds by feed id or by a
glob on the feed URL and names its targets as `kind:account` (`x:corporate`,
`mastodon:libraries`). Each route has a template with `{title}`, `{link}`, `{summary}` and
`{hashtags}`, a fixed prefix and suffix, hashtags made from the item's tags, optional UTM
parameters added to the link, `corrections` (post FeedItemUpdated again) and `urgent` (jump the
account's queue). Without a config every feed goes to the default account with `{title} {link}`.

Pure: no I/O; `routes_for` is what the publisher and `herald preview` call.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import regex
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events import FeedItemDiscovered, FeedItemUpdated

DEFAULT_ACCOUNT = "corporate"
DEFAULT_TEMPLATE = "{title} {link}"
PLACEHOLDERS = ("title", "link", "summary", "hashtags")

Item = FeedItemDiscovered | FeedItemUpdated


class RouteConfig(BaseModel):
    """One routing rule, as written in the config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", description="A label for logs and previews.")
    feeds: list[str] = Field(
        default_factory=lambda: ["*"],
        description="Feed ids (`feed-…`) or globs on the feed URL (`https://www.example.gov.uk/news/*`).",
    )
    to: list[str] = Field(min_length=1, description="Targets as `kind:account`, e.g. `x:corporate`.")
    template: str = Field(
        default=DEFAULT_TEMPLATE, description="Placeholders: {title} {link} {summary} {hashtags}."
    )
    prefix: str = Field(default="", description="Fixed text before the template (e.g. `TRAVEL: `).")
    suffix: str = Field(default="", description="Fixed text after the template.")
    hashtags: bool = Field(default=False, description="Turn the item's tags into hashtags for {hashtags}.")
    max_hashtags: int = Field(default=3, ge=0, description="At most this many hashtags.")
    utm: dict[str, str] = Field(
        default_factory=dict, description="UTM parameters added to the link, e.g. {utm_source: x}."
    )
    corrections: bool = Field(default=False, description="Post again when the item is updated.")
    urgent: bool = Field(default=False, description="Jump the account's queue (travel, flooding…).")

    @field_validator("to")
    @classmethod
    def _targets(cls, targets: list[str]) -> list[str]:
        for target in targets:
            kind, _, account = target.partition(":")
            if not kind or not account:
                raise ValueError(f"target {target!r} is not `kind:account`")
        return targets

    @field_validator("template")
    @classmethod
    def _template(cls, template: str) -> str:
        for name in regex.findall(r"\{([^{}]*)\}", template):
            if name not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {{{name}}} (known: {', '.join(PLACEHOLDERS)})")
        return template

    def matches(self, feed_id: str, feed_url: str) -> bool:
        return any(pattern == feed_id or fnmatch.fnmatchcase(feed_url, pattern) for pattern in self.feeds)


@dataclass(frozen=True)
class Route:
    """Post one item on `target` (`kind:account`) the way `config` says."""

    target: str
    config: RouteConfig

    @property
    def kind(self) -> str:
        return self.target.partition(":")[0]

    @property
    def account(self) -> str:
        return self.target.partition(":")[2]

    @property
    def urgent(self) -> bool:
        return self.config.urgent


def default_routes(default_target: str) -> list[RouteConfig]:
    """No config file: every feed → the default account, `{title} {link}`."""
    return [RouteConfig(name="default", to=[default_target])]


def routes_for(item: Item, routes: list[RouteConfig]) -> list[Route]:
    """The targets of an item, in config order; the first route naming a target wins it (so a
    specific route placed before a catch-all decides that account's wording). An update
    (FeedItemUpdated) only goes where the winning route asks for corrections."""
    chosen: dict[str, Route] = {}
    for config in routes:
        if not config.matches(item.feed_id, item.feed_url):
            continue
        for target in config.to:
            chosen.setdefault(target, Route(target=target, config=config))
    found = list(chosen.values())
    if isinstance(item, FeedItemUpdated):
        found = [route for route in found if route.config.corrections]
    return found


def with_utm(link: str, params: dict[str, str]) -> str:
    """The link with UTM parameters added (existing ones are kept, not duplicated)."""
    if not params or not link:
        return link
    parts = urlsplit(link)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {key for key, _ in query}
    query += [(key, value) for key, value in params.items() if key not in present]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def hashtags_from(tags: list[str], limit: int) -> list[str]:
    """`#BinCollections` from "bin collections": letters and digits only, CamelCased, no
    duplicates, none that is only digits (X does not treat those as hashtags)."""
    result: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        words = regex.findall(r"[\p{L}\p{N}]+", tag)
        if not words:
            continue
        body = "".join(word[:1].upper() + word[1:] for word in words)
        if body.isdigit() or body.casefold() in seen:
            continue
        seen.add(body.casefold())
        result.append("#" + body)
        if len(result) >= limit:
            break
    return result
