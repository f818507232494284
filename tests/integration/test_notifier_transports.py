"""The notifier's transports against real loopback servers (aiosmtpd, aiohttp) with the real client
libraries over the wire. No Kafka needed, so not marked `integration`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.notifier.render import Alert
from services.notifier.transports import (
    EmailTransport,
    RetryPolicy,
    TransportError,
    WebhookTransport,
    configured_transports,
    deliver,
)
from shared.settings import HeraldSettings
from tests.fakes.smtp import FakeSMTP
from tests.fakes.webhook import FakeWebhook
from tests.support.ports import free_port

ALERT = Alert(
    headline="Posted to X (corporate): Road closures",
    text="Posted.\nhttps://x.com/dcc/status/1\n",
    event_type="herald.post.published.v1",
    event_id="evt-1",
    subject="item-1",
    details={"data": {"post_id": "1"}},
)


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as server:
        yield server


def settings(**values: object) -> HeraldSettings:
    return HeraldSettings(**values)  # type: ignore[arg-type]


async def test_email_reaches_the_smtp_server(smtp: FakeSMTP) -> None:
    transport = EmailTransport(
        settings(
            smtp_host="127.0.0.1",
            smtp_port=smtp.port,
            forum_email_to=["forum@council.example", "b@council.example"],
            forum_email_from="herald@council.example",
        )
    )
    await transport.send(ALERT)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"] == ALERT.headline
    assert message["From"] == "herald@council.example"
    assert message["X-Herald-Event-Id"] == "evt-1"
    assert "https://x.com/dcc/status/1" in message.get_content()
    assert smtp.envelopes[0].rcpt_tos == ["forum@council.example", "b@council.example"]


async def test_unreachable_smtp_is_a_retryable_transport_error() -> None:
    transport = EmailTransport(
        settings(smtp_host="127.0.0.1", smtp_port=free_port(), forum_email_to=["f@x.example"])
    )
    with pytest.raises(TransportError) as caught:
        await transport.send(ALERT)
    assert not caught.value.permanent and caught.value.reason.startswith("SMTP 127.0.0.1:")


async def test_webhook_posts_json_with_the_bearer_token(webhook: FakeWebhook) -> None:
    transport = WebhookTransport(
        settings(forum_webhook_url=webhook.url, forum_webhook_token=SecretStr("hook-token"))
    )
    await transport.send(ALERT)
    [request] = webhook.requests
    assert request.headers["Authorization"] == "Bearer hook-token"
    assert request.body["headline"] == ALERT.headline
    assert request.body["event_id"] == "evt-1" and request.body["data"] == {"post_id": "1"}


async def test_webhook_5xx_is_retried_and_4xx_is_not(webhook: FakeWebhook) -> None:
    transport = WebhookTransport(settings(forum_webhook_url=webhook.url))
    webhook.fail_next(2, status=503)
    assert await deliver(transport, ALERT, RetryPolicy(attempts=3, first_delay=0.01)) is None
    assert len(webhook.requests) == 3
    assert "Authorization" not in webhook.requests[0].headers

    webhook.fail_next(1, status=404)
    failure = await deliver(transport, ALERT, RetryPolicy(attempts=3, first_delay=0.01))
    assert failure == f"webhook 127.0.0.1:{webhook.port}: HTTP 404 (attempt 1 of 3)"
    assert len(webhook.requests) == 4


def test_transports_follow_the_settings() -> None:
    assert configured_transports(settings()) == []
    assert configured_transports(settings(smtp_host="mail")) == []  # no recipients: no e-mail
    names = [
        t.name
        for t in configured_transports(
            settings(smtp_host="mail", forum_email_to="a@x.example", forum_webhook_url="http://127.0.0.1:1/h")
        )
    ]
    assert names == ["email", "webhook"]
