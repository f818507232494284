"""The publisher's configuration file: one YAML document named by `HERALD_PUBLISHER_CONFIG`.

```yaml
accounts: …            # channel accounts and credentials (services/publisher/accounts.py)
routes:                # which feeds go where, worded how (routing.RouteConfig)
  - feeds: ["https://www.example.gov.uk/travel/*"]
    to: [x:corporate, mastodon:corporate]
    template: "{title} {link} {hashtags}"
    hashtags: true
    utm: {utm_source: social, utm_medium: herald}
    urgent: true
policy:                # the council's social media policy (policy.PolicyConfig)
  quiet_hours: {x: {start: "22:00", end: "07:00"}}
  blocked_keywords: [strike]
flow:                  # flow control (FlowConfig)
  spacing_seconds: 30
```

No file: every feed → the default account with `{title} {link}`, no policy rule, no spacing.
Only `routes`, `policy` and `flow` are validated here; `accounts` is handed to the channels'
own model as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.publisher.policy import PolicyConfig
from services.publisher.routing import RouteConfig


class FlowConfig(BaseModel):
    """Flow control: spacing between posts to one account, and the margin after a rate-limit reset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spacing_seconds: float = Field(
        default=0.0, ge=0, description="Least time between two posts to one account."
    )
    spacing: dict[str, float] = Field(default_factory=dict, description="`kind:account` → its own spacing.")
    reset_margin_seconds: float = Field(
        default=0.5, ge=0, description="Wait this long past a rate-limit reset (clocks differ)."
    )
    in_flight: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Posts to one account being posted at once, each with its intent durable before its "
        "call (1 for an account with spacing or a cost cap: those count posts one at a time).",
    )

    def spacing_for(self, target: str) -> float:
        return self.spacing.get(target, self.spacing_seconds)

    def in_flight_for(self, target: str, *, cost_capped: bool) -> int:
        """How many of one account's posts may be in flight at once."""
        return 1 if cost_capped or self.spacing_for(target) > 0 else self.in_flight


class PublisherConfig(BaseModel):
    """The whole file; `routes` empty means "the default route"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: Any = Field(default=None, description="Channel accounts (validated by accounts.py).")
    routes: list[RouteConfig] = Field(default_factory=list)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    flow: FlowConfig = Field(default_factory=FlowConfig)


class ConfigError(ValueError):
    """The config file is missing, not YAML, or not valid: one line saying where."""


def parse_config(document: Any, *, source: str = "config") -> PublisherConfig:
    if document is None:
        return PublisherConfig()
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: the top level must be a mapping (accounts/routes/policy/flow)")
    try:
        return PublisherConfig.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "(root)"
        raise ConfigError(f"{source}: {where}: {first.get('msg')}") from None


def load_config(path: str | Path | None) -> PublisherConfig:
    """Read the file named by `path` (the `publisher_config` setting); none → defaults."""
    if path is None:
        return PublisherConfig()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read publisher config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"publisher config {path} is not YAML: {str(exc).splitlines()[0]}") from None
    return parse_config(document, source=str(path))
