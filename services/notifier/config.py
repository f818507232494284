"""The notifier's targets file (HERALD_NOTIFIER_CONFIG): who hears what, and how to reach them.

Every target names its kind, whether it is `internal` (inside the council: it may see private
accounts' handles and staff addresses), what it wants to hear, and how to reach it. Credentials —
webhook URLs included, since their path is the secret — are `{env: NAME}` or `{file: PATH}`, never
values. Without a file the old flat settings give the default set (`from_settings`). A bad file is
one `NotifierConfigError` naming the setting and the field, raised at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from shared.localtime import LONDON, QuietHours, Schedule, zone_named
from shared.secret_ref import SecretRef
from shared.settings import HeraldSettings

SETTING = "HERALD_NOTIFIER_CONFIG"
#: `to: forum_members`: the directory's staff marked as forum members (their work e-mails).
FORUM_MEMBERS = "forum_members"

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "error")


class NotifierConfigError(ValueError):
    """The targets file is wrong; the message is one line naming the setting and the field."""


class TargetKind(StrEnum):
    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    DISCORD = "discord"
    MATTERMOST = "mattermost"
    MATRIX = "matrix"
    GOOGLE_CHAT = "google_chat"
    WEBHOOK = "webhook"


WEBHOOK_KINDS = {
    TargetKind.SLACK,
    TargetKind.TEAMS,
    TargetKind.DISCORD,
    TargetKind.MATTERMOST,
    TargetKind.GOOGLE_CHAT,
    TargetKind.WEBHOOK,
}


class Wants(BaseModel):
    """What a target wants to hear; an empty list means "any"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kinds: list[str] = Field(
        default_factory=list, description="CloudEvents types, e.g. herald.post.failed.v1"
    )
    channels: list[str] = Field(default_factory=list, description="Post channels, e.g. x, mastodon.")
    feeds: list[str] = Field(default_factory=list, description="Feed ids (feed-health alerts).")
    severity: Severity = "info"


class RetryConfig(BaseModel):
    """Capped exponential backoff with jitter, until the give-up age."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_delay: float = Field(default=2.0, gt=0)
    max_delay: float = Field(default=300.0, gt=0)
    give_up_after: float = Field(default=24 * 3600.0, gt=0, description="Seconds after the first try.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds one call may take.")


class TargetQuietHours(QuietHours):
    """A target's quiet hours: its alerts wait in the ledger until `end`, then go out."""

    except_severity: Severity | None = Field(
        default=None, description="Alerts at or above this severity go out even in quiet hours."
    )


DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$")


class ItemRouting(BaseModel):
    """Feed items a target hears of: announced when found, or as a reminder `remind_before` their
    date (the item's published time: an events feed dates each item with its event)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feeds: list[str] = Field(min_length=1, description="Feed ids whose items this target hears of.")
    remind_before: timedelta | None = Field(
        default=None, description='E.g. "1d", "2h", "1d12h", "90m"; unset: announce when found.'
    )

    @field_validator("remind_before", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        match = DURATION.match(value.strip())
        if not value.strip() or match is None:
            raise ValueError(f"not a duration like 1d, 2h, 1d12h or 90m: {value!r}")
        days, hours, minutes = (int(part or 0) for part in match.groups())
        return timedelta(days=days, hours=hours, minutes=minutes)


class Security(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class TargetConfig(BaseModel):
    """One target; fields beyond `name`, `kind`, `internal`, `wants`, `retry` depend on the kind."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    kind: TargetKind
    internal: bool = False
    wants: Wants = Field(default_factory=Wants)
    retry: RetryConfig | None = None
    templates: Path | None = Field(
        default=None,
        description="A directory of this target's own templates (relative: to the targets file), "
        "searched before the defaults; checked at start-up.",
    )
    quiet_hours: TargetQuietHours | None = None
    digest: Schedule | None = Field(
        default=None, description="Hear what it wants in one digest per window instead of at once."
    )
    items: ItemRouting | None = None
    # webhooks (all chat kinds and the generic one)
    url: SecretRef | None = None
    token: SecretRef | None = None  # generic webhook: bearer; matrix: access token
    signing_secret: SecretRef | None = None  # generic webhook: HMAC-SHA256 key
    # matrix
    homeserver: str | None = None
    room: str | None = None
    # e-mail
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = Security.NONE
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the server (a private CA).")
    username: str | None = None
    password: SecretRef | None = None
    sender: str | None = Field(default=None, alias="from")
    to: list[str] | Literal["forum_members"] = Field(
        default_factory=list,
        description="Addresses (e.g. the forum's list), or `forum_members`: the staff the directory "
        "marks as forum members, as they are when each alert is sent (internal targets only).",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> TargetConfig:
        if self.kind in WEBHOOK_KINDS and self.url is None:
            raise ValueError(f"{self.kind} target needs url: {{env: NAME}} or {{file: PATH}}")
        if self.kind is TargetKind.MATRIX and not (self.homeserver and self.room and self.token):
            raise ValueError("matrix target needs homeserver, room and token")
        if self.kind is TargetKind.EMAIL and not (self.host and self.sender and self.to):
            raise ValueError("email target needs host, from and to")
        if self.to == FORUM_MEMBERS and not self.internal:
            raise ValueError("to: forum_members sends to staff addresses: only an internal target may")
        if self.kind is not TargetKind.WEBHOOK and self.signing_secret is not None:
            raise ValueError("signing_secret is for the generic webhook only")
        return self


class NotifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryConfig = Field(default_factory=RetryConfig)
    timezone: str = Field(default=LONDON, description="Zone of quiet hours and digest schedules.")
    group_published: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Seconds an item's published alert waits for the item's other channels, so the "
        "forum hears of all of them in one message (0: one message per channel).",
    )
    targets: list[TargetConfig] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        zone_named(value)
        return value

    @model_validator(mode="after")
    def _unique(self) -> NotifierConfig:
        names = [target.name for target in self.targets]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"target {name} is defined twice")
        return self

    def retry_for(self, target: TargetConfig) -> RetryConfig:
        return target.retry or self.retry


def load_config(path: Path) -> NotifierConfig:
    """Read and validate the targets file; NotifierConfigError (one line) when it is wrong."""
    where = f"{SETTING}={path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotifierConfigError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise NotifierConfigError(f"{where}:{line} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise NotifierConfigError(f"{where}: the top level must be a mapping with a targets: list")
    config = _validated(data, where)
    targets = [
        t.model_copy(update={"templates": path.parent / t.templates})
        if t.templates is not None and not t.templates.is_absolute()
        else t
        for t in config.targets
    ]
    return config.model_copy(update={"targets": targets})


def _validated(data: Any, where: str) -> NotifierConfig:
    """The targets, or NotifierConfigError naming the first bad field (never its value)."""
    try:
        return NotifierConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "top level"
        message = error["msg"].removeprefix("Value error, ")
        raise NotifierConfigError(f"{where}: {field}: {message}") from None


def resolve(
    ref: SecretRef | None, target: TargetConfig, field: str, environ: Mapping[str, str]
) -> SecretStr | None:
    """A credential's value, or NotifierConfigError naming the target and field (never the value)."""
    if ref is None:
        return None
    try:
        return ref.resolve(environ)
    except ValueError as exc:
        raise NotifierConfigError(f"{SETTING}: target {target.name}: {field}: {exc}") from None


def from_settings(settings: HeraldSettings) -> NotifierConfig:
    """The default target set without a file: the HERALD_SMTP_*/HERALD_FORUM_EMAIL_* list (the
    forum's own addresses: internal) and HERALD_FORUM_WEBHOOK_URL (a generic webhook: not internal,
    since where it leads is not known). Their secrets stay in the settings' environment variables."""
    n = settings.notifier
    targets: list[dict[str, Any]] = []
    if n.smtp_host and n.forum_email_to:
        security = "tls" if n.smtp_use_tls else "starttls" if n.smtp_starttls else "none"
        email: dict[str, Any] = {
            "name": "email",
            "kind": "email",
            "internal": True,
            "host": n.smtp_host,
            "port": n.smtp_port,
            "security": security,
            "username": n.smtp_username,
            "from": n.forum_email_from,
            "to": list(n.forum_email_to),
        }
        if n.smtp_password is not None:
            email["password"] = {"env": "HERALD_SMTP_PASSWORD"}
        targets.append(email)
    if n.forum_webhook_url:
        webhook: dict[str, Any] = {
            "name": "webhook",
            "kind": "webhook",
            "url": {"env": "HERALD_FORUM_WEBHOOK_URL"},
        }
        if n.forum_webhook_token is not None:
            webhook["token"] = {"env": "HERALD_FORUM_WEBHOOK_TOKEN"}
        targets.append(webhook)
    return _validated({"targets": targets}, "the HERALD_SMTP_*/HERALD_FORUM_* settings")
