"""The Mastodon channel against a loopback Mastodon over HTTP: Idempotency-Key makes a repeat
harmless, rate-limit headers (ISO reset) on success and 429, Mastodon's reasons on errors, media
uploaded (including one still processing) and attached, and finding a status by its link.

No broker needed: the channel is called directly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.publisher.channels import MastodonChannel, OutgoingPost, PermanentPostError, TransientPostError
from tests.fakes.images import FakeImages
from tests.fakes.mastodon import TOKEN, FakeMastodon

LINK = "https://www.example.gov.uk/news/library-hours"


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(rate_limit_reset_in=3) as server:
        yield server


@pytest.fixture(scope="module")
def images() -> Iterator[FakeImages]:
    with FakeImages() as server:
        yield server


def channel_for(fake: FakeMastodon, token: str = TOKEN) -> MastodonChannel:
    return MastodonChannel(
        account="council",
        base_url=fake.base_url,
        access_token=SecretStr(token),
        media_poll_seconds=0.02,
        allow_private_networks=True,  # the test's image server is on loopback
    )


def outgoing(text: str, key: str = "item-1|mastodon:council", images: tuple[str, ...] = ()) -> OutgoingPost:
    return OutgoingPost(text=text, idempotency_key=key, link=LINK, title="Library hours", image_urls=images)


async def test_post_sends_the_idempotency_key_and_reads_rate_limits(fake: FakeMastodon) -> None:
    channel = channel_for(fake)
    try:
        result = await channel.post(outgoing(f"New library hours {LINK}"))
    finally:
        await channel.close()
    assert fake.texts() == [f"New library hours {LINK}"]
    assert fake.idempotency_keys_seen == ["item-1|mastodon:council"]
    assert result.post_id == fake.statuses[0]["id"]
    assert result.post_url == fake.statuses[0]["url"]
    assert result.rate_limit_remaining == 299
    assert result.rate_limit_reset_at is not None and 0 < result.rate_limit_reset_at - time.time() <= 4


async def test_same_idempotency_key_never_posts_twice(fake: FakeMastodon) -> None:
    channel = channel_for(fake)
    try:
        first = await channel.post(outgoing("Posted once"))
        again = await channel.post(outgoing("Posted once"))  # a retry after a lost answer
        other = await channel.post(outgoing("Posted once", key="item-2|mastodon:council"))
    finally:
        await channel.close()
    assert again.post_id == first.post_id
    assert other.post_id != first.post_id
    assert fake.status_calls == 3 and len(fake.statuses) == 2


async def test_429_is_transient_with_the_iso_reset(fake: FakeMastodon) -> None:
    fake.script("429")
    channel = channel_for(fake)
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing("Too fast"))
    finally:
        await channel.close()
    error = caught.value
    assert error.code == "rate_limited"
    assert error.retry_at is not None and 1 < error.retry_at - time.time() <= 4
    assert error.rate_limit is not None and error.rate_limit.remaining == 0
    assert fake.statuses == []


@pytest.mark.parametrize(
    ("answer", "code", "words"),
    [
        ("422", "http_422", "Text character limit of 500 exceeded"),
        ("401", "auth", "The access token is invalid"),
    ],
)
async def test_permanent_errors_carry_mastodons_reason(
    fake: FakeMastodon, answer: str, code: str, words: str
) -> None:
    fake.script(answer)
    channel = channel_for(fake)
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing("Refused"))
    finally:
        await channel.close()
    assert caught.value.code == code and words in caught.value.reason


async def test_wrong_token_is_permanent(fake: FakeMastodon) -> None:
    channel = channel_for(fake, token="wrong")
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing("No"))
    finally:
        await channel.close()
    assert caught.value.code == "auth"


async def test_server_error_is_transient(fake: FakeMastodon) -> None:
    fake.script("500")
    channel = channel_for(fake)
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing("Oops"))
    finally:
        await channel.close()
    assert caught.value.code == "http_500"


async def test_images_are_uploaded_and_attached_after_processing(
    fake: FakeMastodon, images: FakeImages
) -> None:
    fake.processing_polls = 2  # 202, then one 206 poll, then ready
    channel = channel_for(fake)
    try:
        result = await channel.post(
            outgoing("Pictures", images=(images.url("img/one.png"), images.url("page.png")))
        )
    finally:
        await channel.close()
    attached = fake.statuses[0]["media_attachments"]
    assert [a["id"] for a in attached] == list(result.media_ids) and len(attached) == 1
    assert attached[0]["url"] is not None and attached[0]["description"] == "Library hours"
    assert len(result.notes) == 1 and "not an image" in result.notes[0]


async def test_find_recent_finds_a_status_by_its_link(fake: FakeMastodon) -> None:
    fake.add_existing_status("Something else https://www.example.gov.uk/news/other")
    channel = channel_for(fake)
    try:
        made = await channel.post(outgoing(f"Hours {LINK}"))
        fake.add_existing_status("Later news")
        found = await channel.find_recent(LINK)
        missing = await channel.find_recent("https://www.example.gov.uk/news/none")
    finally:
        await channel.close()
    assert found is not None and found.post_id == made.post_id and found.post_url == made.post_url
    assert missing is None
