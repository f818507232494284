"""feed_ingest settings that issue 5 adds (scheduling, push, health), read from `HERALD_*`.

Service-local until they move into `shared.settings.HeraldSettings` (same names, same env vars),
so the shared settings stay untouched while the service grows.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.feed_ingest.fetch import DEFAULT_PER_HOST_LIMIT, POOL_LIMIT


class OptionsError(ValueError):
    """A `HERALD_*` feed_ingest setting that cannot be used; the message is one line."""


class FeedIngestOptions(BaseSettings):
    """Scheduling bounds, broken-feed threshold, ping token and WebSub subscriber settings."""

    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore")

    feed_min_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Adaptive polling never goes below this (nor below a feed's own interval).",
    )
    feed_max_interval_seconds: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Adaptive polling never goes above this (nor above a feed's own interval).",
    )
    feed_poll_jitter: float = Field(
        default=0.1, ge=0, le=0.5, description="Each delay is spread by ± this fraction (no thundering herd)."
    )
    feed_max_backoff_seconds: float = Field(
        default=6 * 3600.0, gt=0, description="Longest wait after errors."
    )
    feed_broken_after_seconds: float = Field(
        default=24 * 3600.0, gt=0, description="A feed failing this long is announced broken."
    )
    feed_poll_concurrency: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Polls in flight per worker (each host still gets at most feed_per_host_concurrency).",
    )
    feed_per_host_concurrency: int = Field(
        default=DEFAULT_PER_HOST_LIMIT,
        ge=1,
        le=POOL_LIMIT,
        description="Requests in flight to any one host at once, per worker "
        f"(HERALD_FEED_PER_HOST_CONCURRENCY, 1 to {POOL_LIMIT}): however many feeds a council's server "
        "hosts, one worker never opens more than this many connections to it; the other polls of that "
        "host wait their turn.",
    )
    feed_timing_flush_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often routine 304s' new poll times reach the table changelog (they wait in "
        "memory; a lost one only means an early conditional poll).",
    )
    ping_token: SecretStr | None = Field(
        default=None, description="Bearer token for POST /ping (HERALD_ADMIN_TOKEN is accepted too)."
    )
    websub_callback_base_url: str | None = Field(
        default=None, description="Public base URL hubs call back (…/websub/<feed id>); unset: no WebSub."
    )
    websub_secret: SecretStr | None = Field(
        default=None, description="Master secret; each feed's hub.secret is derived from it."
    )
    websub_lease_seconds: int = Field(default=10 * 24 * 3600, ge=60, description="Lease asked of hubs.")

    @field_validator("ping_token", "websub_callback_base_url", "websub_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def websub_enabled(self) -> bool:
        return bool(self.websub_callback_base_url and self.websub_secret)


def load_options() -> FeedIngestOptions:
    """The options from the environment; a bad value is an `OptionsError` naming its variable
    (never the value: it may be a secret)."""
    try:
        return FeedIngestOptions()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "HERALD_" + "_".join(str(part) for part in error["loc"]).upper()
        raise OptionsError(f"{name}: {error['msg']}") from None
