"""The council's channel accounts: which exist, where their APIs are, and where their secrets live.

Read from the `accounts:` section of the YAML file named by `HERALD_PUBLISHER_CONFIG` (the same
file holds the routes and the policy, read elsewhere; other sections are ignored here):

```yaml
accounts:
  - name: corporate
    kind: x
    credentials:
      api_key: {env: HERALD_X_CORPORATE_API_KEY}
      api_secret: {env: HERALD_X_CORPORATE_API_SECRET}
      access_token: {file: /run/secrets/x-corporate-token}
      access_token_secret: {file: /run/secrets/x-corporate-token-secret}
  - {name: council, kind: mastodon, base_url: https://social.example.gov.uk,
     credentials: {access_token: {env: HERALD_MASTODON_TOKEN}}}
  - {name: libraries, kind: bluesky, handle: libraries.example.gov.uk,
     credentials: {app_password: {env: HERALD_BLUESKY_LIBRARIES_PASSWORD}}}
  - {name: libraries, kind: facebook, page_id: "1234567890",
     credentials: {page_access_token: {env: HERALD_FB_LIBRARIES_TOKEN}}}
  - {name: intranet, kind: webhook, base_url: https://intranet.example.gov.uk/hooks/herald,
     credentials: {signing_secret: {env: HERALD_INTRANET_HOOK_SECRET}}}
```

Secrets are never written in the file: each credential names an environment variable or a file
(Docker/Kubernetes secrets), read when the channels are built, held as SecretStr and never logged
or echoed in an error. `dry_run: true` makes an account post to the outbox instead.
Without a config file: the walking skeleton's behaviour (X `corporate` from HERALD_X_*, else the
dry-run outbox).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from services.publisher.channels import (
    BLUESKY_LIMITS,
    FACEBOOK_LIMITS,
    MASTODON_LIMITS,
    WEBHOOK_LIMITS,
    X_LIMITS,
    Channel,
    ChannelLimits,
    FacebookPageChannel,
    MastodonChannel,
    OutboxChannel,
    WebhookChannel,
    XChannel,
)
from services.publisher.channels.facebook import DEFAULT_GRAPH_URL, DEFAULT_GRAPH_VERSION
from services.publisher.channels.media import DEFAULT_MAX_IMAGE_BYTES
from shared.secret_ref import SecretRef
from shared.settings import HeraldSettings
from shared.x_api import X_DEFAULT_BASE_URL

DEFAULT_ACCOUNT = "corporate"


class AccountsConfigError(ValueError):
    """The accounts configuration is wrong; the message is one line naming the field."""


class ChannelKind(StrEnum):
    X = "x"
    MASTODON = "mastodon"
    BLUESKY = "bluesky"
    FACEBOOK = "facebook"
    WEBHOOK = "webhook"
    OUTBOX = "outbox"


#: Credential names per kind: (required, optional).
CREDENTIALS: dict[ChannelKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ChannelKind.X: (("api_key", "api_secret", "access_token", "access_token_secret"), ()),
    ChannelKind.MASTODON: (("access_token",), ()),
    ChannelKind.BLUESKY: (("app_password",), ()),
    ChannelKind.FACEBOOK: (("page_access_token",), ("app_secret",)),
    ChannelKind.WEBHOOK: ((), ("token", "signing_secret")),
    ChannelKind.OUTBOX: ((), ()),
}
LIMITS: dict[str, ChannelLimits] = {
    "x": X_LIMITS,
    "mastodon": MASTODON_LIMITS,
    "bluesky": BLUESKY_LIMITS,
    "facebook": FACEBOOK_LIMITS,
    "webhook": WEBHOOK_LIMITS,
}


class AccountConfig(BaseModel):
    """One account on one channel."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Account name used by routes.")
    kind: ChannelKind
    base_url: str | None = Field(
        default=None,
        description="API base URL (X, Mastodon instance, Bluesky PDS, Graph API) or the webhook's URL.",
    )
    ca_bundle: Path | None = Field(default=None, description="Extra CA file to trust for this API.")
    handle: str | None = Field(default=None, description="Bluesky: the account's handle.")
    page_id: str | None = Field(default=None, description="Facebook: the Page's id.")
    api_version: str = Field(default=DEFAULT_GRAPH_VERSION, description="Facebook: Graph API version.")
    visibility: str = Field(default="public", description="Mastodon: status visibility.")
    stands_in_for: str | None = Field(default=None, description="Outbox: the kind it pretends to be.")
    dry_run: bool = Field(default=False, description="Post to the outbox instead of the service.")
    idempotent: bool = Field(
        default=False,
        description="Webhook: the receiver answers a repeated Idempotency-Key as it answered the first "
        "(so a call whose answer was lost is retried; else it is held for a person).",
    )
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_image_bytes: int = Field(default=DEFAULT_MAX_IMAGE_BYTES, gt=0)
    credentials: dict[str, SecretRef] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> AccountConfig:
        required, optional = CREDENTIALS[self.kind]
        if self.dry_run or self.kind is ChannelKind.OUTBOX:
            required = ()
        missing = [name for name in required if name not in self.credentials]
        if missing:
            raise ValueError(f"credentials.{missing[0]} is required for a {self.kind.value} account")
        known = CREDENTIALS[self.kind][0] + optional
        unknown = sorted(set(self.credentials) - set(known))
        if unknown:
            allowed = ", ".join(known) or "none"
            raise ValueError(
                f"credentials.{unknown[0]} is not a {self.kind.value} credential (allowed: {allowed})"
            )
        live = not self.dry_run
        if live and self.kind is ChannelKind.BLUESKY and not self.handle:
            raise ValueError("handle is required for a bluesky account")
        if live and self.kind is ChannelKind.FACEBOOK and not self.page_id:
            raise ValueError("page_id is required for a facebook account")
        if live and self.kind in (ChannelKind.MASTODON, ChannelKind.WEBHOOK) and not self.base_url:
            raise ValueError(f"base_url is required for a {self.kind.value} account")
        if self.base_url is not None and not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must start with https:// or http://")
        if self.stands_in_for is not None and self.stands_in_for not in LIMITS:
            raise ValueError(f"stands_in_for must be one of {', '.join(LIMITS)}")
        return self

    @property
    def key(self) -> str:
        """How routes name it: `kind:account`; a dry-run stand-in keeps the name of what it stands for."""
        if self.kind is ChannelKind.OUTBOX:
            return f"{self.stands_in_for or 'outbox'}:{self.name}"
        return f"{self.kind.value}:{self.name}"


class AccountsConfig(BaseModel):
    """The `accounts:` section of the publisher's config file (other sections are not ours)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    accounts: list[AccountConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> AccountsConfig:
        seen: set[str] = set()
        for account in self.accounts:
            if account.key in seen:
                raise ValueError(f"account {account.key} is defined twice")
            seen.add(account.key)
        return self


def parse_accounts(data: Any, *, source: str = "config") -> AccountsConfig:
    """Validate already-loaded YAML/JSON; AccountsConfigError names the first bad field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise AccountsConfigError(f"{source}: the top level must be a mapping with an accounts: list")
    try:
        return AccountsConfig.model_validate(data)
    except ValidationError as exc:
        raise AccountsConfigError(f"{source}: {_first_error(exc)}") from None


def load_accounts(path: Path | None) -> AccountsConfig | None:
    """The accounts section of `path` (the `publisher_config` setting); None without a file."""
    if path is None:
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccountsConfigError(
            f"{path}: cannot read the publisher config: {exc.strerror or exc}"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AccountsConfigError(f"{path}:{where} not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_accounts(data, source=str(path))


def build_channels(
    accounts_config: AccountsConfig | None,
    settings: HeraldSettings,
    *,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Channel]:
    """Every configured account's channel, keyed `kind:account` (a dry-run stand-in under the key of
    the account it stands in for, with `name == "outbox"`). Without a config: the skeleton's one
    account, `x:corporate` — X from HERALD_X_* or the outbox. Nothing connects here."""
    environ = environ if environ is not None else os.environ
    if accounts_config is None:
        if settings.publisher.x_credentials_set:
            return {f"x:{DEFAULT_ACCOUNT}": XChannel(settings, account=DEFAULT_ACCOUNT)}
        outbox = OutboxChannel(
            settings.outbox_dir, account=DEFAULT_ACCOUNT, stands_in_for="x", limits=X_LIMITS
        )
        return {f"x:{DEFAULT_ACCOUNT}": outbox}
    channels: dict[str, Channel] = {}
    for index, account in enumerate(accounts_config.accounts):
        try:
            channels[account.key] = _build(account, settings, environ)
        except ValueError as exc:
            raise AccountsConfigError(f"accounts[{index}] ({account.key}): {exc}") from None
    return channels


def _build(account: AccountConfig, settings: HeraldSettings, environ: Mapping[str, str]) -> Channel:
    if account.kind is ChannelKind.OUTBOX or account.dry_run:
        stands_in_for = account.stands_in_for or (
            account.kind.value if account.kind is not ChannelKind.OUTBOX else "outbox"
        )
        return OutboxChannel(
            settings.outbox_dir,
            account=account.name,
            stands_in_for=stands_in_for,
            limits=LIMITS.get(stands_in_for),
        )
    secrets = {}
    for name, ref in account.credentials.items():
        try:
            secrets[name] = ref.resolve(environ)
        except ValueError as exc:
            raise ValueError(f"credentials.{name}: {exc}") from None
    common = {"account": account.name, "timeout": account.timeout_seconds}
    # Image URLs come from feeds: the channels that fetch them vet them like feed_ingest does.
    images = {"allow_private_networks": settings.allow_private_networks}
    if account.kind is ChannelKind.X:
        return XChannel(
            credentials=(
                secrets["api_key"],
                secrets["api_secret"],
                secrets["access_token"],
                secrets["access_token_secret"],
            ),
            base_url=account.base_url or settings.publisher.x_api_base_url or X_DEFAULT_BASE_URL,
            ca_bundle=account.ca_bundle or settings.publisher.x_ca_bundle,
            max_image_bytes=account.max_image_bytes,
            **images,
            **common,
        )
    if account.kind is ChannelKind.MASTODON:
        assert account.base_url is not None
        return MastodonChannel(
            base_url=account.base_url,
            access_token=secrets["access_token"],
            visibility=account.visibility,
            ca_bundle=account.ca_bundle,
            max_image_bytes=account.max_image_bytes,
            **images,
            **common,
        )
    if account.kind is ChannelKind.BLUESKY:
        assert account.handle is not None
        from services.publisher.channels.bluesky import DEFAULT_PDS, BlueskyChannel  # atproto: on use

        return BlueskyChannel(
            handle=account.handle,
            app_password=secrets["app_password"],
            base_url=account.base_url or DEFAULT_PDS,
            ca_bundle=str(account.ca_bundle) if account.ca_bundle else None,
            max_image_bytes=min(account.max_image_bytes, 1_000_000),
            **images,
            **common,
        )
    if account.kind is ChannelKind.FACEBOOK:
        assert account.page_id is not None
        return FacebookPageChannel(
            page_id=account.page_id,
            page_access_token=secrets["page_access_token"],
            app_secret=secrets.get("app_secret"),
            base_url=account.base_url or DEFAULT_GRAPH_URL,
            api_version=account.api_version,
            ca_bundle=account.ca_bundle,
            **common,
        )
    assert account.kind is ChannelKind.WEBHOOK and account.base_url is not None
    return WebhookChannel(
        url=account.base_url,
        token=secrets.get("token"),
        signing_secret=secrets.get("signing_secret"),
        ca_bundle=account.ca_bundle,
        idempotent=account.idempotent,
        **common,
    )


def _first_error(exc: ValidationError) -> str:
    """`accounts[1].credentials.api_key: reason` — never the offending value (it may be a secret)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    parts: list[str] = []
    for loc in error["loc"]:
        if isinstance(loc, int):
            parts[-1:] = [f"{parts[-1]}[{loc}]"] if parts else [f"[{loc}]"]
        else:
            parts.append(str(loc))
    where = ".".join(parts) or "config"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"
