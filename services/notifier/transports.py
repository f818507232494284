"""How an alert reaches the forum: e-mail (SMTP via aiosmtplib) and/or a webhook (JSON POST via httpx).

Each transport either delivers or raises `TransportError` with a one-line reason that names no
secret (no password, no token, no webhook path — webhook URLs are often secrets themselves).
`deliver` retries transient failures a few times with exponential backoff. The consumer runs at
concurrency 1, so a dead SMTP server delays later alerts by the retries' total (a few seconds per
transport), never loses them and never crashes the worker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import urlsplit

import aiosmtplib
import httpx

from services.notifier.render import Alert
from shared.settings import HeraldSettings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0


class TransportError(Exception):
    """Delivery failed; `permanent` failures are not retried (the same call would fail again)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Transport(Protocol):
    name: str

    async def send(self, alert: Alert) -> None: ...


class EmailTransport:
    """One message per alert to the forum's addresses; the subject is the headline."""

    name = "email"

    def __init__(self, settings: HeraldSettings) -> None:
        assert settings.notifier.smtp_host
        self.host = settings.notifier.smtp_host
        self.port = settings.notifier.smtp_port
        self.username = settings.notifier.smtp_username
        self.password = settings.notifier.smtp_password
        self.starttls = settings.notifier.smtp_starttls
        self.use_tls = settings.notifier.smtp_use_tls
        self.sender = settings.notifier.forum_email_from
        self.recipients = list(settings.notifier.forum_email_to)

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = alert.headline
        msg["From"] = self.sender
        msg["To"] = ", ".join(self.recipients)
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="herald.local")
        msg["X-Herald-Event-Id"] = alert.event_id
        msg["X-Herald-Event-Type"] = alert.event_type
        msg.set_content(alert.text)
        return msg

    async def send(self, alert: Alert) -> None:
        try:
            await aiosmtplib.send(
                self.message(alert),
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password.get_secret_value() if self.password else None,
                start_tls=self.starttls,
                use_tls=self.use_tls,
                timeout=TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused) as exc:
            raise TransportError(f"SMTP {self.host}:{self.port} refused: {exc}", permanent=True) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                f"SMTP {self.host}:{self.port} login failed ({exc.code})", permanent=True
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TransportError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from None


class WebhookTransport:
    """POST the alert as JSON; 2xx is delivered, 408/429/5xx are retried, other 4xx are not."""

    name = "webhook"

    def __init__(self, settings: HeraldSettings) -> None:
        assert settings.notifier.forum_webhook_url
        self.url = settings.notifier.forum_webhook_url
        self.token = settings.notifier.forum_webhook_token
        self.where = urlsplit(self.url).netloc or "webhook"

    async def send(self, alert: Alert) -> None:
        headers = {"User-Agent": "herald-notifier"}
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token.get_secret_value()}"
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
                response = await client.post(self.url, json=alert.webhook_body(), headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"webhook {self.where}: {type(exc).__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        permanent = 400 <= status < 500 and status not in (408, 429)
        raise TransportError(f"webhook {self.where}: HTTP {status}", permanent=permanent)


def configured_transports(settings: HeraldSettings) -> list[Transport]:
    """E-mail when a host and recipients are set; webhook when a URL is set; else none (log only)."""
    transports: list[Transport] = []
    if settings.notifier.smtp_host and settings.notifier.forum_email_to:
        transports.append(EmailTransport(settings))
    if settings.notifier.forum_webhook_url:
        transports.append(WebhookTransport(settings))
    return transports


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    first_delay: float = 0.5
    factor: float = 2.0

    def delays(self) -> list[float]:
        """Pauses between attempts: 0.5, 1, 2 s by default."""
        return [self.first_delay * self.factor**n for n in range(self.attempts - 1)]


async def deliver(
    transport: Transport,
    alert: Alert,
    policy: RetryPolicy = RetryPolicy(),
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> str | None:
    """Send with retries; None when delivered, else the last failure's reason."""
    delays = policy.delays()
    for attempt in range(1, policy.attempts + 1):
        try:
            await transport.send(alert)
            return None
        except TransportError as exc:
            if exc.permanent or attempt == policy.attempts:
                return f"{exc.reason} (attempt {attempt} of {policy.attempts})"
            log.warning("%s attempt %d failed: %s; retrying", transport.name, attempt, exc.reason)
            await sleep(delays[attempt - 1])
    return "no attempt made"  # unreachable with attempts >= 1


async def send_alert(
    alert: Alert,
    transports: Sequence[Transport],
    policy: RetryPolicy = RetryPolicy(),
    *,
    report: Callable[[str, str], Awaitable[None]],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> list[str]:
    """Deliver on every configured transport; return the names that worked.

    With none configured the alert is logged and the answer is `["log"]`, so nothing is silently
    dropped. A transport that still fails after its retries is reported (`report(kind, message)`,
    i.e. a ServiceError for ops) and left out; an empty answer means nobody was told."""
    if not transports:
        log.info("forum alert (log only): %s\n%s", alert.headline, alert.text)
        return ["log"]
    used: list[str] = []
    for transport in transports:
        failure = await deliver(transport, alert, policy, sleep=sleep)
        if failure is None:
            used.append(transport.name)
        else:
            await report(f"forum_{transport.name}_failed", f"alert about {alert.event_id}: {failure}")
    if used:
        log.info("forum alert sent via %s: %s", ",".join(used), alert.headline)
    else:
        log.warning("forum alert NOT delivered on any transport: %s\n%s", alert.headline, alert.text)
    return used
