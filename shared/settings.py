"""Settings for every Herald process, from `HERALD_*` environment variables (and an optional
`.env`-style file named by `HERALD_CONFIG_FILE`), through pydantic-settings.

Secrets are `SecretStr`: they never appear in `repr()`, logs or events.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "herald"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "herald"


SERVICE_PORTS = {"feed_ingest": 8001, "publisher": 8002, "notifier": 8003, "directory": 8004}


class HeraldSettings(BaseSettings):
    """Everything a Herald process can be told; defaults run the whole pipeline on one machine."""

    model_config = SettingsConfigDict(
        env_prefix="HERALD_",
        env_file=os.environ.get("HERALD_CONFIG_FILE"),
        extra="ignore",
    )

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
    heartbeat_interval_seconds: float = Field(default=15.0, gt=0)
    recovery_stall_seconds: float = Field(
        default=15.0,
        gt=0,
        description="A table recovery that reads nothing this long is restarted, then the worker exits.",
    )

    # HTTP ports of the four services (health, metrics, and their own endpoints)
    feed_ingest_port: int = SERVICE_PORTS["feed_ingest"]
    publisher_port: int = SERVICE_PORTS["publisher"]
    notifier_port: int = SERVICE_PORTS["notifier"]
    directory_port: int = SERVICE_PORTS["directory"]
    web_bind: str = Field(default="127.0.0.1", description="Address the services' HTTP ports bind to.")
    admin_token: SecretStr | None = Field(default=None, description="Bearer token for admin HTTP calls.")

    # feed_ingest
    default_poll_interval_seconds: int = Field(default=300, ge=5)
    poll_tick_seconds: float = Field(default=1.0, gt=0, description="How often due feeds are looked for.")
    allow_private_networks: bool = Field(default=False, description="Allow feeds on loopback/private IPs.")
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    max_feed_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    user_agent_contact: str = Field(default="https://github.com/herald", description="Contact URL in UA.")

    # publisher: X (OAuth 1.0a user context); unset credentials mean the dry-run outbox
    x_api_base_url: str = "https://api.twitter.com"
    x_api_key: SecretStr | None = None
    x_api_secret: SecretStr | None = None
    x_access_token: SecretStr | None = None
    x_access_token_secret: SecretStr | None = None
    x_ca_bundle: Path | None = Field(default=None, description="Extra CA file to trust for the X API.")

    # notifier
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    forum_email_from: str = "herald@localhost"
    forum_email_to: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Forum addresses, comma-separated in the environment."
    )
    forum_webhook_url: str | None = None
    forum_webhook_token: SecretStr | None = None

    @field_validator(
        "kafka_bootstrap_servers",
        "admin_token",
        "x_api_key",
        "x_api_secret",
        "x_access_token",
        "x_access_token_secret",
        "x_ca_bundle",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "forum_webhook_url",
        "forum_webhook_token",
        "kafka_port",
        "instance_id",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """compose passes `${VAR:-}` as an empty string: that means "not set", not "empty secret"."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("forum_email_to", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def x_credentials_set(self) -> bool:
        return all((self.x_api_key, self.x_api_secret, self.x_access_token, self.x_access_token_secret))

    @cached_property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    def service_port(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))


def load_settings(**overrides: object) -> HeraldSettings:
    """Read settings now (not at import), so tests and subprocesses see their own environment."""
    return HeraldSettings(**overrides)  # type: ignore[arg-type]
