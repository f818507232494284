"""E-mail over SMTP (aiosmtplib): STARTTLS or TLS, optional login, multipart plain text + HTML, to
a list address or to the forum members as the directory has them when the alert is sent.

The Message-ID is made from the alert id, so every retry of one alert is the same message:
`idempotent` in the sense docs/adr/0009 gives it (SMTP itself cannot deduplicate; receivers, list
servers and mail clients fold repeats with one Message-ID). Refused recipients, sender or login
are permanent; 4xx replies and no connection are transient; a connection lost after DATA began is
ambiguous.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
from pydantic import SecretStr

from services.notifier.adapters import DeliveryError, rendering
from services.notifier.render import Alert
from services.notifier.templating import DEFAULT_TEMPLATES, HTML, TEXT, Templates

MESSAGE_ID_DOMAIN = "herald.notifier"
#: The To header of a message to the forum members: a group with no addresses (RFC 5322), so no
#: member's reply-all writes to everyone; the members are the envelope's recipients.
FORUM_MEMBERS_HEADER = "Social Media Forum members:;"


def render_email(
    alert: Alert, alert_id: str, *, sender: str, to: list[str], templates: Templates = DEFAULT_TEMPLATES
) -> EmailMessage:
    """The plain-text part from the `text` templates, the HTML part from the autoescaped `html`
    ones; the headline is the subject."""
    headline = templates.headline(alert.kind, alert.facts, possible_repeat=alert.possible_repeat)
    msg = EmailMessage()
    msg["Subject"] = headline  # one line already; EmailMessage refuses header injection
    msg["From"] = sender
    msg["To"] = ", ".join(to) if to else FORUM_MEMBERS_HEADER
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = f"<{alert_id}@{MESSAGE_ID_DOMAIN}>"
    msg["X-Herald-Event-Id"] = alert.event_id
    msg["X-Herald-Event-Type"] = alert.event_type
    msg.set_content(templates.body(TEXT, alert.kind, alert.facts) + "\n")
    msg.add_alternative(
        "<!DOCTYPE html>\n<html><body>"
        f"<p><strong>{templates.escape(HTML, headline)}</strong></p>\n"
        f"<div>{templates.body(HTML, alert.kind, alert.facts)}</div>"
        "</body></html>\n",
        subtype="html",
    )
    return msg


class EmailAdapter:
    kind = "email"
    idempotent = True

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        security: str,
        username: str | None,
        password: SecretStr | None,
        sender: str,
        to: list[str] | Callable[[], list[str]],
        internal: bool,
        timeout: float,
        ca_file: str | None = None,
        templates: Templates = DEFAULT_TEMPLATES,
    ) -> None:
        """`to`: the addresses, or a function giving them at each send (the forum members)."""
        self.name = name
        self.templates = templates
        self.ca_file = ca_file
        self.internal = internal
        self.host, self.port, self.security = host, port, security
        self.username, self._password = username, password
        self.sender = sender
        self.to: list[str] | Callable[[], list[str]] = to if callable(to) else list(to)
        self.timeout = timeout
        self.where = f"SMTP {host}:{port}"

    async def send(self, alert: Alert, alert_id: str) -> None:
        if callable(self.to):
            recipients, shown = self.to(), []
            if not recipients:  # the view has not read the snapshot yet, or nobody is a member
                raise DeliveryError(f"{self.where}: no forum member's address known yet", "transient")
        else:
            recipients = shown = self.to
        with rendering(self.name):
            message = render_email(alert, alert_id, sender=self.sender, to=shown, templates=self.templates)
        try:
            await aiosmtplib.send(
                message,
                recipients=recipients,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self._password.get_secret_value() if self._password else None,
                start_tls=self.security == "starttls",
                use_tls=self.security == "tls",
                cert_bundle=self.ca_file,
                timeout=self.timeout,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPSenderRefused) as exc:
            raise DeliveryError(f"{self.where} refused: {exc}", "permanent") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(f"{self.where} login failed ({exc.code})", "permanent") from None
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPConnectTimeoutError) as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__}", "transient") from None
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError) as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__} (no answer)", "ambiguous") from None
        except aiosmtplib.SMTPResponseException as exc:
            failure = "transient" if 400 <= exc.code < 500 else "permanent"
            raise DeliveryError(f"{self.where}: {exc.code} {exc.message}", failure) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{self.where}: {type(exc).__name__} (no answer)", "ambiguous") from None

    async def close(self) -> None:
        return None
