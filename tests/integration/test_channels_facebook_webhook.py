"""The Facebook Page, webhook and outbox channels against loopback servers (no broker): Graph's
fields and token checks, its error codes mapped (token → permanent, throttling → transient with
the usage header's regain time, 506 → duplicate), the webhook's bearer token and HMAC signature,
and the outbox's file per account."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.publisher.channels import (
    DuplicatePostError,
    FacebookPageChannel,
    OutboxChannel,
    OutgoingPost,
    PermanentPostError,
    TransientPostError,
    WebhookChannel,
)
from tests.fakes.facebook import PAGE_ID, PAGE_TOKEN, FakeFacebook
from tests.fakes.webhook import FakeWebhook

LINK = "https://www.example.gov.uk/libraries/storytime"


@pytest.fixture
def facebook() -> Iterator[FakeFacebook]:
    with FakeFacebook(app_secret="fake-app-secret") as server:
        yield server


def page(fake: FakeFacebook, token: str = PAGE_TOKEN) -> FacebookPageChannel:
    return FacebookPageChannel(
        account="libraries",
        page_id=PAGE_ID,
        page_access_token=SecretStr(token),
        app_secret=SecretStr("fake-app-secret"),
        base_url=fake.base_url,
    )


def outgoing(text: str = "Storytime is back") -> OutgoingPost:
    return OutgoingPost(
        text=text, idempotency_key="item-9|facebook:libraries", link=LINK, title=text, item_id="item-9"
    )


async def test_facebook_posts_message_and_link(facebook: FakeFacebook) -> None:
    channel = page(facebook)
    try:
        result = await channel.post(outgoing())
    finally:
        await channel.close()
    assert facebook.posts == [{"id": result.post_id, "message": "Storytime is back", "link": LINK}]
    assert result.post_url == f"https://www.facebook.com/{PAGE_ID}/posts/{result.post_id.split('_')[1]}"
    assert result.rate_limit_remaining == 90
    assert await channel.find_recent(LINK) is None and not channel.can_find_recent


async def test_facebook_bad_token_is_permanent_with_graphs_reason(facebook: FakeFacebook) -> None:
    channel = page(facebook, token="EAAwrong")
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing())
    finally:
        await channel.close()
    assert caught.value.code == "auth" and "Invalid OAuth access token" in caught.value.reason


async def test_facebook_throttling_is_transient_until_access_returns(facebook: FakeFacebook) -> None:
    facebook.script("throttle")
    channel = page(facebook)
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing())
    finally:
        await channel.close()
    error = caught.value
    assert error.code == "rate_limited" and "(code 32)" in error.reason
    assert error.retry_at is not None and 55 <= error.retry_at - time.time() <= 61
    assert error.rate_limit is not None and error.rate_limit.remaining == 0


async def test_facebook_duplicate_and_server_errors(facebook: FakeFacebook) -> None:
    channel = page(facebook)
    try:
        await channel.post(outgoing())
        with pytest.raises(DuplicatePostError):
            await channel.post(outgoing())
        facebook.script("500")
        with pytest.raises(TransientPostError):
            await channel.post(outgoing("Other words"))
    finally:
        await channel.close()
    assert len(facebook.posts) == 1


async def test_webhook_signs_and_authenticates() -> None:
    with FakeWebhook() as hook:
        channel = WebhookChannel(
            account="intranet",
            url=hook.url,
            token=SecretStr("hook-token"),
            signing_secret=SecretStr("s3cret"),
        )
        try:
            result = await channel.post(outgoing())
            hook.fail_next(1, 503)
            with pytest.raises(TransientPostError):
                await channel.post(outgoing())
            hook.fail_next(1, 400)
            with pytest.raises(PermanentPostError):
                await channel.post(outgoing())
        finally:
            await channel.close()
        first = hook.requests[0]
    assert result.post_id == "item-9|facebook:libraries"
    assert first.headers["Authorization"] == "Bearer hook-token"
    assert first.headers["Idempotency-Key"] == "item-9|facebook:libraries"
    body = json.dumps(first.body, ensure_ascii=False, separators=(",", ":")).encode()
    expected = hmac.new(b"s3cret", first.headers["X-Herald-Timestamp"].encode() + b"." + body, hashlib.sha256)
    assert first.headers["X-Herald-Signature"] == f"sha256={expected.hexdigest()}"
    assert first.body["text"] == "Storytime is back" and first.body["link"] == LINK


async def test_outbox_keeps_x_jsonl_for_the_skeleton_account_and_a_file_per_other_account(
    tmp_path: Path,
) -> None:
    corporate = OutboxChannel(tmp_path, account="corporate", stands_in_for="x")
    libraries = OutboxChannel(tmp_path, account="libraries", stands_in_for="mastodon")
    made = await corporate.post(outgoing())
    await libraries.post(outgoing("Other"))
    assert corporate.path == tmp_path / "x.jsonl" and libraries.path == tmp_path / "mastodon-libraries.jsonl"
    line = json.loads(corporate.path.read_text().splitlines()[0])
    assert (line["channel"], line["account"], line["text"], line["dry_run"]) == (
        "x",
        "corporate",
        "Storytime is back",
        True,
    )
    found = await corporate.find_recent(LINK)
    assert found is not None and found.post_id == made.post_id and found.dry_run
    assert await corporate.find_recent("https://elsewhere.example") is None
