"""From the targets file (or the default set) to running adapters; credentials resolved and a
target's own templates checked here, once, at start-up, so a missing variable or a broken template
is one clear error before anything connects."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from services.notifier.adapters import Adapter
from services.notifier.adapters.chat import QUERIES, RENDERERS, ChatAdapter
from services.notifier.adapters.email import EmailAdapter
from services.notifier.adapters.matrix import MatrixAdapter
from services.notifier.adapters.webhook import WebhookAdapter
from services.notifier.config import (
    FORUM_MEMBERS,
    SETTING,
    NotifierConfig,
    NotifierConfigError,
    RetryConfig,
    TargetConfig,
    TargetKind,
    from_settings,
    load_config,
    resolve,
)
from services.notifier.examples import examples
from services.notifier.templating import DEFAULT_TEMPLATES, TemplateProblem, Templates
from shared.localtime import LONDON
from shared.settings import HeraldSettings

DEFAULT_SMTP_PORTS = {"none": 25, "starttls": 587, "tls": 465}


@dataclass(frozen=True)
class Target:
    config: TargetConfig
    adapter: Adapter
    retry: RetryConfig
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(LONDON))  # of its quiet hours and digests
    group_published: float = 0.0  # seconds an item's published alert waits for its other channels

    @property
    def name(self) -> str:
        return self.config.name


def configured_targets(
    settings: HeraldSettings,
    environ: Mapping[str, str] | None = None,
    *,
    forum_members: Callable[[], list[str]] = lambda: [],
) -> list[Target]:
    """The targets of HERALD_NOTIFIER_CONFIG, or without it the HERALD_SMTP_*/HERALD_FORUM_* set;
    `forum_members` gives the addresses of an e-mail target's `to: forum_members`."""
    environ = dict(os.environ if environ is None else environ)
    path = settings.notifier.notifier_config
    if path is not None:
        config = load_config(path)
    else:
        config = from_settings(settings)
        environ.update(_flat_secrets(settings))
    return build_targets(config, environ, forum_members=forum_members)


def build_targets(
    config: NotifierConfig,
    environ: Mapping[str, str],
    *,
    forum_members: Callable[[], list[str]] = lambda: [],
) -> list[Target]:
    zone = ZoneInfo(config.timezone)
    return [
        Target(
            t,
            _adapter(t, config.retry_for(t), environ, forum_members),
            config.retry_for(t),
            zone,
            group_published=config.group_published,
        )
        for t in config.targets
    ]


def templates_for(t: TargetConfig) -> Templates:
    """The target's templates (its directory over the defaults), every kind rendered once in every
    format; NotifierConfigError naming the setting, the target and the file when one fails."""
    if t.templates is None:
        return DEFAULT_TEMPLATES
    templates = Templates(t.templates)
    try:
        templates.check(examples())
    except TemplateProblem as exc:
        problem = " ".join(str(exc).split())
        raise NotifierConfigError(f"{SETTING}: target {t.name}: templates: {problem}") from None
    return templates


def _adapter(
    t: TargetConfig, retry: RetryConfig, environ: Mapping[str, str], forum_members: Callable[[], list[str]]
) -> Adapter:
    timeout = retry.timeout
    templates = templates_for(t)
    if t.kind is TargetKind.EMAIL:
        assert t.host and t.sender
        return EmailAdapter(
            t.name,
            host=t.host,
            port=t.port or DEFAULT_SMTP_PORTS[t.security.value],
            security=t.security.value,
            username=t.username,
            password=resolve(t.password, t, "password", environ),
            sender=t.sender,
            to=forum_members if t.to == FORUM_MEMBERS else list(t.to),
            internal=t.internal,
            timeout=timeout,
            ca_file=str(t.ca_file) if t.ca_file else None,
            templates=templates,
        )
    if t.kind is TargetKind.MATRIX:
        token = resolve(t.token, t, "token", environ)
        assert t.homeserver and t.room and token
        return MatrixAdapter(
            t.name, t.homeserver, t.room, token, internal=t.internal, timeout=timeout, templates=templates
        )
    url = resolve(t.url, t, "url", environ)
    assert url is not None
    if t.kind is TargetKind.WEBHOOK:
        return WebhookAdapter(
            t.name,
            url,
            internal=t.internal,
            timeout=timeout,
            token=resolve(t.token, t, "token", environ),
            signing_secret=resolve(t.signing_secret, t, "signing_secret", environ),
            templates=templates,
        )
    kind = t.kind.value
    return ChatAdapter(
        t.name,
        kind,
        url,
        internal=t.internal,
        timeout=timeout,
        render=RENDERERS[kind],
        query=QUERIES.get(kind),
        templates=templates,
    )


def _flat_secrets(settings: HeraldSettings) -> dict[str, str]:
    """The default set's secrets, from the settings (which may have read them from a .env file)."""
    n = settings.notifier
    values = {
        "HERALD_SMTP_PASSWORD": n.smtp_password,
        "HERALD_FORUM_WEBHOOK_URL": n.forum_webhook_url,
        "HERALD_FORUM_WEBHOOK_TOKEN": n.forum_webhook_token,
    }
    return {
        name: value if isinstance(value, str) else value.get_secret_value()
        for name, value in values.items()
        if value is not None
    }
