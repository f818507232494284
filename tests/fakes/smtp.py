"""A real SMTP server on loopback (aiosmtpd), collecting what it receives, for notifier tests.

`FakeSMTP().start()` listens on a free 127.0.0.1 port (`.port`); with `tls_context` it offers
STARTTLS and requires it; with `implicit_tls` it speaks TLS from the first byte (port 465's
"SMTPS"); with `login=(user, password)` it requires AUTH; `.messages` holds the parsed messages
(`email.message.EmailMessage`) in arrival order, `.envelopes` the SMTP envelopes (mail_from,
rcpt_tos), `.arrivals` when each came (epoch seconds, for benchmarks); `stop()` ends it.
aiosmtpd's Controller runs the server in its own thread, so it works from sync and async tests
alike.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.ports import free_port


@dataclass(frozen=True)
class ReceivedEnvelope:
    mail_from: str
    rcpt_tos: list[str]


class _Collector:
    def __init__(self, fake: FakeSMTP) -> None:
        self.fake = fake

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        arrived = time.time()
        content = envelope.original_content or envelope.content  # type: ignore[attr-defined]
        message = BytesParser(policy=policy.default).parsebytes(content)
        with self.fake._lock:
            self.fake.messages.append(message)  # type: ignore[arg-type]
            self.fake.arrivals.append(arrived)
            self.fake.envelopes.append(
                ReceivedEnvelope(envelope.mail_from, list(envelope.rcpt_tos))  # type: ignore[attr-defined]
            )
        return "250 Message accepted for delivery"


class FakeSMTP:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        tls_context: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[ReceivedEnvelope] = []
        self.arrivals: list[float] = []
        self.logins: list[str] = []
        self._lock = threading.Lock()
        self._login = login
        options: dict[str, object] = {}
        if tls_context is not None:
            options.update(tls_context=tls_context, require_starttls=True)
        if implicit_tls is not None:
            options.update(ssl_context=implicit_tls)
        if login is not None:
            # aiosmtpd's auth_require_tls looks for STARTTLS only; under implicit TLS the whole
            # session is encrypted already, so AUTH is offered from the start.
            options.update(authenticator=self._authenticate, auth_require_tls=tls_context is not None)
        self._controller = Controller(_Collector(self), hostname=host, port=self.port, **options)

    def _authenticate(
        self, server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login == (data.login.decode(), data.password.decode())
        if ok:
            with self._lock:
                self.logins.append(data.login.decode())  # type: ignore[union-attr]
        return AuthResult(success=ok)

    def start(self) -> FakeSMTP:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def subjects(self) -> list[str]:
        with self._lock:
            return [str(m["Subject"]) for m in self.messages]

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
