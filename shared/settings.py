"""Every Herald setting, in one pydantic-settings model with a section per service.

Each setting has one flat name, its environment variable without the `HERALD_` prefix
(`HERALD_FEED_POLL_CONCURRENCY` is `feed_poll_concurrency`), whether it is given in the
environment, in the `.env`-style file named by `HERALD_CONFIG_FILE`, or as a keyword to
`load_settings`. Code reads it from its section (`settings.feed_ingest.feed_poll_concurrency`),
so a service sees what belongs to it. The environment wins over the file. Both are read when
`load_settings` is called (a service being built, a CLI command starting), never at import time.

Secrets are `SecretStr`: they never appear in `repr()`, logs or events.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

ENV_PREFIX = "HERALD_"
CONFIG_FILE_ENV = "HERALD_CONFIG_FILE"
#: A feed_ingest worker's connections in all (its fetcher's pool); no host may have more.
FEED_CONNECTION_LIMIT = 200
#: Platforms the directory can check accounts against.
CHECKED_PLATFORMS = ("x", "mastodon", "bluesky")
SERVICE_PORTS = {"feed_ingest": 8001, "publisher": 8002, "notifier": 8003, "directory": 8004}


class SettingsError(ValueError):
    """A setting that cannot be used: one line naming the variable, for a person to fix."""


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "herald"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "herald"


def _empty_is_unset(value: object) -> object:
    """compose passes `${VAR:-}` as an empty string: that means "not set", not "empty secret"."""
    return None if isinstance(value, str) and not value.strip() else value


class _Section(BaseModel):
    """A service's settings; unknown names are refused by the root's routing, not here."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedIngestSettings(_Section):
    """Fetching, scheduling, health and push (feed_ingest)."""

    default_poll_interval_seconds: int = Field(
        default=300,
        ge=5,
        description="A feed's poll interval when `herald feeds add` is given no `--interval`.",
    )
    poll_tick_seconds: float = Field(default=1.0, gt=0, description="How often due feeds are looked for.")
    http_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="A fetch waiting this long for the next byte fails; a whole fetch gets 3×.",
    )
    max_feed_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest feed accepted, on the wire and once decompressed.",
    )
    user_agent_contact: str = Field(default="https://github.com/herald", description="Contact URL in UA.")
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
        default=8,
        ge=1,
        le=FEED_CONNECTION_LIMIT,
        description="Requests in flight to any one host at once, per worker: however many feeds a "
        "council's server hosts, one worker never opens more than this many connections to it; the "
        "other polls of that host wait their turn.",
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

    _unset_when_empty = field_validator(
        "ping_token", "websub_callback_base_url", "websub_secret", mode="before"
    )(_empty_is_unset)

    @property
    def websub_enabled(self) -> bool:
        return bool(self.websub_callback_base_url and self.websub_secret)


class PublisherSettings(_Section):
    """The X account used without a config file (OAuth 1.0a user context), and that config file."""

    publisher_config: Path | None = Field(
        default=None, description="Publisher accounts, routes, policy and flow (YAML); unset: one X account."
    )
    x_api_base_url: str = Field(
        default="https://api.twitter.com", description="The X API (tests use a loopback one)."
    )
    x_api_key: SecretStr | None = Field(
        default=None, description="X OAuth 1.0a consumer key; all four unset: dry-run outbox."
    )
    x_api_secret: SecretStr | None = Field(default=None, description="X OAuth 1.0a consumer secret.")
    x_access_token: SecretStr | None = Field(default=None, description="X OAuth 1.0a user access token.")
    x_access_token_secret: SecretStr | None = Field(
        default=None, description="X OAuth 1.0a user access secret."
    )
    x_ca_bundle: Path | None = Field(default=None, description="Extra CA file to trust for the X API.")
    publisher_max_attempts: int = Field(default=4, ge=1, description="Calls per item and channel account.")
    publisher_backoff_base_seconds: float = Field(
        default=1.0, ge=0, description="First backoff; doubles each try."
    )
    publisher_backoff_max_seconds: float = Field(
        default=30.0, ge=0, description="Longest backoff within the first max_attempts calls."
    )
    publisher_retry_cap_seconds: float = Field(
        default=300.0, ge=0, description="Longest backoff after them, while the channel stays down."
    )
    publisher_settle_seconds: float = Field(
        default=3.0,
        ge=0,
        description="After a call whose answer was lost and a first look that did not find the post, "
        "how long to wait before looking again (a timeline can lag).",
    )
    publisher_give_up_seconds: float = Field(
        default=86400.0,
        ge=0,
        description="After this long failing, a post is held for a person instead of tried again.",
    )

    _unset_when_empty = field_validator(
        "publisher_config",
        "x_api_key",
        "x_api_secret",
        "x_access_token",
        "x_access_token_secret",
        "x_ca_bundle",
        mode="before",
    )(_empty_is_unset)

    @property
    def x_credentials_set(self) -> bool:
        return all((self.x_api_key, self.x_api_secret, self.x_access_token, self.x_access_token_secret))


class NotifierSettings(_Section):
    """Where the forum hears from Herald: the targets file, or else one e-mail list and one webhook."""

    notifier_config: Path | None = Field(
        default=None,
        description="Notifier targets (YAML); unset: the HERALD_SMTP_* list and HERALD_FORUM_WEBHOOK_URL.",
    )
    smtp_host: str | None = Field(default=None, description="Forum e-mail server; unset: no e-mail.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="Its port.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the connection with STARTTLS.")
    smtp_use_tls: bool = Field(default=False, description="Connect over TLS from the start (port 465).")
    forum_email_from: str = Field(default="herald@localhost", description="Sender of forum e-mail.")
    forum_email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Forum addresses, comma-separated in the environment."
    )
    forum_webhook_url: str | None = Field(
        default=None, description="Chat webhook the forum's alerts are POSTed to."
    )
    forum_webhook_token: SecretStr | None = Field(default=None, description="Bearer token sent with them.")
    notifier_clock_file: Path | None = Field(
        default=None,
        description="Set the notifier's clock by writing an ISO-8601 instant into this file (it runs on "
        "from there; re-read when the file changes) instead of the system clock: to rehearse digests, "
        "quiet hours and reminders.",
    )

    _unset_when_empty = field_validator(
        "notifier_config",
        "notifier_clock_file",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "forum_webhook_url",
        "forum_webhook_token",
        mode="before",
    )(_empty_is_unset)

    @field_validator("forum_email_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


class DirectorySettings(_Section):
    """The staff directory's HTTP waits, its checks against the platforms and its X List (ADR 12;
    checks and List all off unless set)."""

    directory_max_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description=(
            "Longest `?wait=` a request may ask for: `POST /staff/commands` for its outcome,"
            " `GET /staff/{id}?min_version=` for that version (10 s, or this if less, without `?wait=`)."
        ),
    )

    directory_checks: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Platforms checked: x, mastodon, bluesky (comma-separated); unset: none.",
    )
    directory_check_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often the checker looks for accounts due a check."
    )
    directory_recheck_days: float = Field(
        default=30.0, gt=0, description="An account is checked again after this."
    )
    directory_checks_per_round: int = Field(
        default=50, ge=1, description="Most accounts checked in one round (the rest wait for the next)."
    )
    directory_inactive_after_days: float = Field(
        default=180.0, gt=0, description="No post for this long: the check finds the account inactive."
    )
    directory_review_unchecked_days: float = Field(
        default=183.0, gt=0, description="`herald staff review` flags accounts not checked for this long."
    )
    directory_x_api_base_url: str = Field(
        default="https://api.twitter.com",
        description="The X API for checks and the X List (tests: loopback).",
    )
    directory_x_api_key: SecretStr | None = Field(
        default=None, description="The directory's X OAuth 1.0a consumer key (the List's owner)."
    )
    directory_x_api_secret: SecretStr | None = Field(default=None, description="Its consumer secret.")
    directory_x_access_token: SecretStr | None = Field(default=None, description="Its user access token.")
    directory_x_access_token_secret: SecretStr | None = Field(default=None, description="Its access secret.")
    directory_x_ca_bundle: Path | None = Field(default=None, description="Extra CA file to trust for it.")
    directory_mastodon_base_url: str | None = Field(
        default=None, description="Mastodon server asked for every lookup; unset: each handle's own server."
    )
    directory_bluesky_base_url: str = Field(
        default="https://public.api.bsky.app", description="Bluesky service that resolves handles."
    )
    directory_plc_url: str = Field(
        default="https://plc.directory", description="PLC directory serving did:plc documents."
    )
    directory_x_list_id: str | None = Field(
        default=None, description="X List kept in step with the public active X accounts; unset: none."
    )
    directory_x_list_sync_interval_seconds: float = Field(
        default=900.0, gt=0, description="How often the X List is reconciled."
    )
    directory_x_list_changes_per_window: int = Field(
        default=300, ge=1, description="Most List member changes per window (X allows 300 per 15 min)."
    )
    directory_x_list_window_seconds: float = Field(default=900.0, gt=0, description="That window.")

    _unset_when_empty = field_validator(
        "directory_x_api_key",
        "directory_x_api_secret",
        "directory_x_access_token",
        "directory_x_access_token_secret",
        "directory_x_ca_bundle",
        "directory_mastodon_base_url",
        "directory_x_list_id",
        mode="before",
    )(_empty_is_unset)

    @field_validator("directory_checks", mode="before")
    @classmethod
    def _split_platforms(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("directory_checks")
    @classmethod
    def _known_platforms(cls, value: list[str]) -> list[str]:
        unknown = [p for p in value if p not in CHECKED_PLATFORMS]
        if unknown:
            raise ValueError(f"{unknown[0]!r} cannot be checked; choose from {', '.join(CHECKED_PLATFORMS)}")
        return list(dict.fromkeys(value))

    @field_validator("directory_x_api_base_url")
    @classmethod
    def _https_only(cls, value: str) -> str:
        if not value.startswith("https://") or len(value) <= len("https://"):
            raise ValueError("the X API is reached over TLS: https://host[:port]")
        return value

    @model_validator(mode="after")
    def _x_needs_credentials(self) -> DirectorySettings:
        if ("x" in self.directory_checks or self.directory_x_list_id) and self.x_credentials is None:
            raise ValueError(
                "X checks and the X List need HERALD_DIRECTORY_X_API_KEY, _API_SECRET, _ACCESS_TOKEN "
                "and _ACCESS_TOKEN_SECRET"
            )
        return self

    @property
    def x_credentials(self) -> tuple[SecretStr, SecretStr, SecretStr, SecretStr] | None:
        found = (
            self.directory_x_api_key,
            self.directory_x_api_secret,
            self.directory_x_access_token,
            self.directory_x_access_token_secret,
        )
        return found if all(found) else None  # type: ignore[return-value]


#: The sections, by the attribute that holds each on `HeraldSettings`.
SECTIONS: dict[str, type[_Section]] = {
    "feed_ingest": FeedIngestSettings,
    "publisher": PublisherSettings,
    "notifier": NotifierSettings,
    "directory": DirectorySettings,
}


def section_of(name: str) -> str | None:
    """The section a flat setting name belongs to, or None for a top-level one."""
    for section, model in SECTIONS.items():
        if name in model.model_fields:
            return section
    return None


class _FlatValues(PydanticBaseSettingsSource):
    """Settings by their flat `HERALD_*` names from one mapping (the environment or the config
    file), each put where it lives: the top level or its service's section."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]) -> None:
        super().__init__(settings_cls)
        self.variables = {key.upper(): value for key, value in variables.items() if value is not None}

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        raise NotImplementedError  # __call__ reads every name at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name in flat_names():
            key = ENV_PREFIX + name.upper()
            if key in self.variables:
                section = section_of(name)
                target = found.setdefault(section, {}) if section else found
                target[name] = self.variables[key]
        return found


def flat_names() -> list[str]:
    """Every setting's flat name (its variable without `HERALD_`), top level first."""
    top = [name for name in HeraldSettings.model_fields if name not in SECTIONS]
    return top + [name for model in SECTIONS.values() for name in model.model_fields]


def _file_values(path: Path) -> dict[str, str | None]:
    """The config file's `HERALD_*` lines; a name that is no setting is an error, not ignored."""
    values = {key.upper(): value for key, value in dotenv_values(path).items()}
    known = {ENV_PREFIX + name.upper() for name in flat_names()}
    for key in values:
        if key.startswith(ENV_PREFIX) and key not in known:
            raise SettingsError(f"{CONFIG_FILE_ENV} ({path}): {key} is not a Herald setting")
    return values


def _config_file() -> Path | None:
    raw = os.environ.get(CONFIG_FILE_ENV, "").strip()
    if not raw:
        return None
    path = Path(raw).expanduser()
    if not path.is_file():
        raise SettingsError(f"{CONFIG_FILE_ENV}: no such file: {path}")
    return path


class HeraldSettings(BaseSettings):
    """Everything a Herald process can be told; defaults run the whole pipeline on one machine."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    # Where things live
    state_dir: Path = Field(default_factory=_default_state_dir, description="Broker data, outbox, stores.")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="Kafka jars fetched by Maven.")

    # Kafka
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Use this broker and start none; unset means the local broker."
    )
    kafka_port: int | None = Field(default=None, description="Port for the local broker (free one if unset).")
    topic_namespace: str = Field(
        default="", description="Prefix on every topic and group name: isolates test runs or installations."
    )
    instance_id: str | None = Field(default=None, description="Worker instance name in heartbeats.")
    log_level: str = Field(
        default="info", pattern="^(debug|info|warn|error|crit)$", description="Herald's logs."
    )
    log_framework: bool = Field(default=False, description="Also show faust/aiokafka INFO logs (debugging).")
    heartbeat_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often each worker beats on herald.ops.heartbeat."
    )
    recovery_stall_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A table recovery that reads no record this long has stalled: the worker reports it "
        "(herald.ops.errors) and exits, so its supervisor starts it afresh.",
    )
    health_loop_stall_seconds: float = Field(
        default=10.0, gt=0, description="/health fails when the event loop has been stuck this long."
    )
    health_consumer_stall_seconds: float = Field(
        default=60.0,
        gt=0,
        description="/health fails when the consumer, its flow on, has fetched nothing this long.",
    )
    ready_max_lag: int = Field(
        default=1000,
        ge=0,
        description="/ready fails while the worker is more records than this behind on what it reads.",
    )

    # HTTP ports of the four services (health, metrics, and their own endpoints)
    feed_ingest_port: int = Field(
        default=SERVICE_PORTS["feed_ingest"], description="feed_ingest: /ping, /health, /metrics."
    )
    publisher_port: int = Field(
        default=SERVICE_PORTS["publisher"], description="publisher: held posts, /health, /metrics."
    )
    notifier_port: int = Field(default=SERVICE_PORTS["notifier"], description="notifier: /health, /metrics.")
    directory_port: int = Field(
        default=SERVICE_PORTS["directory"], description="directory: /staff, /health, /metrics."
    )
    web_bind: str = Field(default="127.0.0.1", description="Address the services' HTTP ports bind to.")
    admin_token: SecretStr | None = Field(default=None, description="Bearer token for admin HTTP calls.")
    allow_private_networks: bool = Field(
        default=False,
        description="Allow loopback/private addresses: feeds, hubs, API base URLs (tests, demos).",
    )

    feed_ingest: FeedIngestSettings = Field(default_factory=FeedIngestSettings)
    publisher: PublisherSettings = Field(default_factory=PublisherSettings)
    notifier: NotifierSettings = Field(default_factory=NotifierSettings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)

    _unset_when_empty = field_validator(
        "kafka_bootstrap_servers", "admin_token", "kafka_port", "instance_id", mode="before"
    )(_empty_is_unset)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keywords, then the environment, then the config file (pydantic-settings' own env
        sources read top-level fields only; every setting here has a flat name)."""
        config_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, _FlatValues(settings_cls, os.environ)]
        if config_file is not None:
            sources.append(_FlatValues(settings_cls, _file_values(config_file)))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, values: Any) -> Any:
        """`load_settings(http_timeout_seconds=5)` means the feed_ingest section's setting."""
        if not isinstance(values, dict):
            return values
        routed: dict[str, Any] = {}
        for name, value in values.items():
            section = section_of(name)
            if section is None:
                routed[name] = value
            else:
                routed.setdefault(section, {})
                routed[section] = {**_as_dict(routed[section]), name: value}
        return routed

    @cached_property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    def service_port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))


def _as_dict(section: Any) -> dict[str, Any]:
    return section.model_dump() if isinstance(section, BaseModel) else dict(section)


def describe_error(error: ValidationError) -> str:
    """The first problem as one line naming the variable: `HERALD_FEED_POLL_JITTER: Input should …`."""
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if str(part) not in SECTIONS]
    name = (ENV_PREFIX + location[0].upper()) if location else "settings"
    given = first.get("input")
    shown = (
        ""
        if isinstance(given, dict) or name.endswith(("TOKEN", "SECRET", "PASSWORD", "KEY"))
        else f" (got {given!r})"
    )
    more = len(error.errors()) - 1
    return f"{name}: {first['msg']}{shown}" + (f"; and {more} more" if more else "")


def load_settings(**overrides: object) -> HeraldSettings:
    """Read settings now (not at import), so tests and subprocesses see their own environment.

    Raises `SettingsError` (one line naming the variable) for a value that cannot be used."""
    try:
        return HeraldSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None
