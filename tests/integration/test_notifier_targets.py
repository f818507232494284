"""Every notifier adapter against a real receiver on loopback (aiosmtpd, aiohttp) with the real
client libraries over the wire, hostile titles included; how each failure is classified. No Kafka
needed, so not marked `integration`."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from services.notifier.adapters import DeliveryError
from services.notifier.adapters.chat import QUERIES, RENDERERS, ChatAdapter
from services.notifier.adapters.email import EmailAdapter
from services.notifier.adapters.matrix import MatrixAdapter
from services.notifier.adapters.webhook import WebhookAdapter
from services.notifier.config import load_config
from services.notifier.render import render
from services.notifier.targets import build_targets
from shared.envelope import wrap
from shared.events import PostPublished
from tests.fakes.smtp import FakeSMTP
from tests.fakes.webhook import FakeWebhook
from tests.support.ports import free_port

HOSTILE = "<!channel> @everyone <script>alert(1)</script> **bold** & <users/all>"
_POST = PostPublished(
    item_id="item-1",
    channel="x",
    account="corporate",
    post_id="1",
    post_url="https://x.com/dcc/status/1",
    text=f"Posted:\n{HOSTILE}",
    title=HOSTILE,
    link="https://council.example/news/1",
    dry_run=False,
    published_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
)
ALERT = render(wrap(_POST, source="/herald/test"), _POST, internal=False)


@pytest.fixture
def receiver() -> Iterator[FakeWebhook]:
    with FakeWebhook(any_path=True) as server:
        yield server


def chat(kind: str, url: str, timeout: float = 5.0) -> ChatAdapter:
    return ChatAdapter(
        kind,
        kind,
        SecretStr(url),
        internal=False,
        timeout=timeout,
        render=RENDERERS[kind],
        query=QUERIES.get(kind),
    )


async def test_email_is_multipart_with_the_alert_message_id() -> None:
    with FakeSMTP() as smtp:
        adapter = EmailAdapter(
            "mail",
            host="127.0.0.1",
            port=smtp.port,
            security="none",
            username=None,
            password=None,
            sender="herald@council.example",
            to=["forum@council.example", "b@council.example"],
            internal=True,
            timeout=5,
        )
        await adapter.send(ALERT, "alert-1")
        [message] = smtp.messages
    assert message["Message-ID"] == "<alert-1@herald.notifier>" and message["Subject"] == ALERT.headline
    assert message.get_content_type() == "multipart/alternative"
    assert "&lt;script&gt;" in message.get_body(("html",)).get_content()
    assert HOSTILE in message.get_body(("plain",)).get_content()
    assert smtp.envelopes[0].rcpt_tos == ["forum@council.example", "b@council.example"]


async def test_unreachable_smtp_is_transient() -> None:
    adapter = EmailAdapter(
        "mail",
        host="127.0.0.1",
        port=free_port(),
        security="none",
        username=None,
        password=None,
        sender="h@x.example",
        to=["f@x.example"],
        internal=True,
        timeout=5,
    )
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(ALERT, "a")
    assert caught.value.failure == "transient" and caught.value.reason.startswith("SMTP 127.0.0.1:")


@pytest.mark.parametrize(
    ("kind", "status"),
    [("slack", 200), ("mattermost", 200), ("google_chat", 200), ("teams", 202), ("discord", 200)],
)
async def test_each_chat_platform_receives_its_documented_shape(
    receiver: FakeWebhook, kind: str, status: int
) -> None:
    receiver.status = status
    await chat(kind, receiver.url).send(ALERT, "alert-1")
    [request] = receiver.requests
    body = request.body
    assert request.method == "POST" and request.path == "/hook"
    assert ALERT.event_id not in request.raw.decode()  # the alert's texts, not the event
    if kind == "slack":
        assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]
        assert "&lt;!channel&gt;" in body["blocks"][1]["text"]["text"]
    elif kind == "teams":
        assert body["type"] == "message"
        assert body["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    elif kind == "discord":
        assert request.query == {"wait": "true"}
        assert body["allowed_mentions"] == {"parse": []} and len(body["embeds"]) == 1
    elif kind == "mattermost":
        assert set(body) == {"text"} and "@everyone" not in body["text"] and "\\<script\\>" in body["text"]
    else:  # Google Chat mentions everyone with <users/all>
        assert set(body) == {"text"} and "<users/all>" not in body["text"] and "<script>" not in body["text"]


async def test_matrix_puts_with_the_alert_id_as_txn_id(receiver: FakeWebhook) -> None:
    adapter = MatrixAdapter(
        "m",
        receiver.url.removesuffix("/hook"),
        "!forum:council.example",
        SecretStr("mx-token"),
        internal=True,
        timeout=5,
    )
    await adapter.send(ALERT, "alert-1")
    await adapter.send(ALERT, "alert-1")  # a retry: the same transaction, which the homeserver folds
    first, second = receiver.requests
    assert first.method == "PUT"
    assert first.path == "/_matrix/client/v3/rooms/!forum:council.example/send/m.room.message/alert-1"
    assert second.path == first.path and second.raw == first.raw
    assert first.headers["Authorization"] == "Bearer mx-token"
    assert first.body["msgtype"] == "m.notice" and "&lt;script&gt;" in first.body["formatted_body"]


async def test_generic_webhook_is_signed_and_carries_an_idempotency_key(receiver: FakeWebhook) -> None:
    adapter = WebhookAdapter(
        "bots",
        SecretStr(receiver.url),
        internal=False,
        timeout=5,
        token=SecretStr("webhook-token"),
        signing_secret=SecretStr("s3cret"),
        clock=lambda: 1700000000.5,
    )
    await adapter.send(ALERT, "alert-1")
    [request] = receiver.requests
    headers = request.headers
    assert headers["X-Herald-Timestamp"] == "1700000000" and headers["Idempotency-Key"] == "alert-1"
    expected = hmac.new(b"s3cret", b"1700000000." + request.raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Herald-Signature"], f"sha256={expected}")
    assert headers["Authorization"] == "Bearer webhook-token"
    assert "data" not in json.loads(request.raw) and request.body["alert_id"] == "alert-1"


async def test_failures_are_classified_and_retry_after_is_read(receiver: FakeWebhook) -> None:
    adapter = chat("slack", receiver.url, timeout=0.5)
    receiver.headers = {"Retry-After": "7"}
    receiver.fail_next(1, status=429)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(ALERT, "a")
    assert (caught.value.failure, caught.value.retry_after) == ("transient", 7.0)
    assert "/hook" not in caught.value.reason  # the webhook path is a secret
    receiver.fail_next(1, status=404)
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(ALERT, "a")
    assert caught.value.failure == "permanent"
    receiver.delay = 2.0  # the request went out; no answer in time
    with pytest.raises(DeliveryError) as caught:
        await adapter.send(ALERT, "a")
    assert caught.value.failure == "ambiguous"
    with pytest.raises(DeliveryError) as caught:
        await chat("slack", f"http://127.0.0.1:{free_port()}/hook").send(ALERT, "a")
    assert caught.value.failure == "transient"


def server_tls(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a certificate for 127.0.0.1 from a test CA, and that CA's file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return context, ca_file


async def test_email_over_starttls_with_login(tmp_path: Path) -> None:
    server_tls_context, ca_file = server_tls(tmp_path)
    with FakeSMTP(tls_context=server_tls_context, login=("herald", "mail-pass")) as smtp:
        adapter = EmailAdapter(
            "mail",
            host="127.0.0.1",
            port=smtp.port,
            security="starttls",
            username="herald",
            password=SecretStr("mail-pass"),
            sender="herald@council.example",
            to=["forum@council.example"],
            internal=True,
            timeout=5,
            ca_file=str(ca_file),
        )
        await adapter.send(ALERT, "alert-1")
        assert smtp.logins == ["herald"] and len(smtp.messages) == 1
        untrusting = EmailAdapter(
            "mail",
            host="127.0.0.1",
            port=smtp.port,
            security="starttls",
            username=None,
            password=None,
            sender="herald@council.example",
            to=["forum@council.example"],
            internal=True,
            timeout=5,
        )
        with pytest.raises(DeliveryError):  # the server's certificate is not trusted: nothing sent
            await untrusting.send(ALERT, "alert-3")
        assert len(smtp.messages) == 1


async def test_email_over_implicit_tls_with_login(tmp_path: Path) -> None:
    """`security: tls` (port 465 style): TLS from the first byte, the certificate checked against
    the configured CA, then AUTH; a plain-text client gets nothing through."""
    context, ca_file = server_tls(tmp_path)

    def adapter(port: int, security: str, ca: Path | None) -> EmailAdapter:
        return EmailAdapter(
            "mail",
            host="127.0.0.1",
            port=port,
            security=security,
            username="herald",
            password=SecretStr("mail-pass"),
            sender="herald@council.example",
            to=["forum@council.example"],
            internal=True,
            timeout=5,
            ca_file=str(ca) if ca else None,
        )

    with FakeSMTP(implicit_tls=context, login=("herald", "mail-pass")) as smtp:
        await adapter(smtp.port, "tls", ca_file).send(ALERT, "alert-tls")
        assert smtp.logins == ["herald"]
        [message] = smtp.messages
        assert message["Message-ID"] == "<alert-tls@herald.notifier>"
        with pytest.raises(DeliveryError):  # the certificate is not trusted without the CA
            await adapter(smtp.port, "tls", None).send(ALERT, "alert-untrusted")
        with pytest.raises(DeliveryError):  # a client speaking plain SMTP to a TLS port
            await adapter(smtp.port, "none", None).send(ALERT, "alert-plain")
        assert len(smtp.messages) == 1 and smtp.logins == ["herald"]


async def test_email_to_the_forum_members_asks_for_them_at_each_send() -> None:
    members: list[str] = []
    with FakeSMTP() as smtp:
        adapter = EmailAdapter(
            "forum",
            host="127.0.0.1",
            port=smtp.port,
            security="none",
            username=None,
            password=None,
            sender="herald@council.example",
            to=lambda: members,
            internal=True,
            timeout=5,
        )
        with pytest.raises(DeliveryError) as caught:  # nobody known yet: it waits, nothing is sent
            await adapter.send(ALERT, "alert-1")
        assert caught.value.failure == "transient" and not smtp.messages
        members += ["a@staff.council.example", "b@staff.council.example"]
        await adapter.send(ALERT, "alert-1")
        assert smtp.envelopes[0].rcpt_tos == members
        assert "staff.council.example" not in str(smtp.messages[0]["To"])


async def test_a_targets_own_templates_reach_the_wire(tmp_path: Path, receiver: FakeWebhook) -> None:
    """A targets file naming a template directory: the e-mail's subject, plain and HTML parts and
    the Slack message carry its words, the hostile title still escaped in each."""
    (tmp_path / "mine" / "kinds").mkdir(parents=True)
    (tmp_path / "mine" / "headlines").mkdir()
    (tmp_path / "mine" / "kinds" / "post_published.j2").write_text(
        "{{ 'Out now'|bold }} on {{ channel }}: {{ title }}\nRead it: {{ link|link(title) }}\n"
    )
    (tmp_path / "mine" / "headlines" / "post_published.j2").write_text("New on {{ channel }}: {{ title }}\n")
    with FakeSMTP() as smtp:
        path = tmp_path / "notifier.yaml"
        mail = f"{{name: mail, kind: email, internal: true, host: 127.0.0.1, port: {smtp.port}"
        path.write_text(
            "targets:\n"
            f"  - {mail}, from: h@council.example, to: [f@council.example], templates: mine}}\n"
            "  - {name: chat, kind: slack, url: {env: CHAT_URL}, templates: mine}\n"
        )
        targets = {t.name: t.adapter for t in build_targets(load_config(path), {"CHAT_URL": receiver.url})}
        await targets["mail"].send(ALERT, "alert-1")
        await targets["chat"].send(ALERT, "alert-1")
        [message] = smtp.messages
    assert message["Subject"] == f"New on X: {HOSTILE}"
    assert message.get_body(("plain",)).get_content().splitlines()[0] == f"Out now on X: {HOSTILE}"
    html = message.get_body(("html",)).get_content()
    assert "<strong>Out now</strong> on X: &lt;!channel&gt;" in html and "<script>" not in html
    assert '<a href="https://council.example/news/1">&lt;!channel&gt;' in html
    [request] = receiver.requests
    blocks = request.body["blocks"]
    assert blocks[0]["text"]["text"] == f"New on X: {HOSTILE}"  # plain_text: shown as text
    assert blocks[1]["text"]["text"].startswith("*Out now* on X: &lt;!channel&gt; @\u200beveryone")


async def test_a_template_failing_on_one_alert_is_a_permanent_failure(
    tmp_path: Path, receiver: FakeWebhook
) -> None:
    """Start-up renders every kind once; a template that still fails on some alert's facts (here:
    a title it refuses) gives that alert up — nothing sent, no retry for ever."""
    (tmp_path / "mine" / "kinds").mkdir(parents=True)
    (tmp_path / "mine" / "kinds" / "post_published.j2").write_text(
        "{% if '<' in title %}{{ raise_here() }}{% endif %}{{ title }}\n"
    )
    path = tmp_path / "notifier.yaml"
    path.write_text("targets: [{name: chat, kind: slack, url: {env: CHAT_URL}, templates: mine}]")
    [target] = build_targets(load_config(path), {"CHAT_URL": receiver.url})
    with pytest.raises(DeliveryError) as caught:
        await target.adapter.send(ALERT, "alert-1")
    assert caught.value.failure == "permanent" and "template failed" in caught.value.reason
    assert "kinds/post_published.j2" in caught.value.reason and not receiver.requests
