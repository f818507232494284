"""The Bluesky channel against a loopback PDS over HTTP, through the real `atproto` SDK: session,
a post whose link facet has the right UTF-8 byte offsets in non-ASCII text (the fake checks the
bytes too), the external card with an uploaded thumb, errors with the PDS's reason, 429 with its
reset, a session that expires mid-way, and finding a post by its link.

No broker needed: the channel is called directly."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from services.publisher.channels import BlueskyChannel, OutgoingPost, PermanentPostError, TransientPostError
from tests.fakes.bluesky import APP_PASSWORD, DID, HANDLE, FakeBluesky
from tests.fakes.images import FakeImages

LINK = "https://www.example.gov.uk/news/llyfrgell?lang=cy"


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    with FakeBluesky() as server:
        yield server


@pytest.fixture(scope="module")
def images() -> Iterator[FakeImages]:
    with FakeImages() as server:
        yield server


def channel_for(fake: FakeBluesky, password: str = APP_PASSWORD) -> BlueskyChannel:
    return BlueskyChannel(
        account="libraries",
        handle=HANDLE,
        app_password=SecretStr(password),
        base_url=fake.base_url,
        allow_private_networks=True,  # the test's image server is on loopback
    )


def outgoing(text: str, images: tuple[str, ...] = ()) -> OutgoingPost:
    return OutgoingPost(
        text=text,
        idempotency_key="item-1|bluesky:libraries",
        link=LINK,
        title="Oriau'r llyfrgell",
        description="Library opening hours change in Ynys Môn",
        image_urls=images,
    )


async def test_link_facet_uses_utf8_byte_offsets(fake: FakeBluesky) -> None:
    prefix = "Café ☕ Llyfrgell Môn — 👩‍👩‍👧 new hours: "
    text = f"{prefix}{LINK} 🎉"
    channel = channel_for(fake)
    try:
        result = await channel.post(outgoing(text))
    finally:
        await channel.close()
    assert fake.rejections == []
    (record,) = fake.posts()
    assert record["text"] == text
    (facet,) = record["facets"]
    start = len(prefix.encode("utf-8"))
    assert start != len(prefix)  # the test means something only if bytes and characters differ
    assert (facet["index"]["byteStart"], facet["index"]["byteEnd"]) == (start, start + len(LINK))
    assert [(f["$type"], f["uri"]) for f in facet["features"]] == [("app.bsky.richtext.facet#link", LINK)]
    card = record["embed"]["external"]
    assert record["embed"]["$type"] == "app.bsky.embed.external"
    assert (card["uri"], card["title"]) == (LINK, "Oriau'r llyfrgell")
    assert "thumb" not in card or card["thumb"] is None
    assert result.post_id.startswith(f"at://{DID}/app.bsky.feed.post/")
    assert result.post_url == f"https://bsky.app/profile/{HANDLE}/post/{result.post_id.rsplit('/', 1)[-1]}"
    assert result.rate_limit_remaining == 4999
    assert fake.sessions_created == 1


async def test_card_thumb_is_an_uploaded_blob(fake: FakeBluesky, images: FakeImages) -> None:
    channel = channel_for(fake)
    try:
        result = await channel.post(outgoing(f"Hours {LINK}", images=(images.url("img/thumb.png"),)))
    finally:
        await channel.close()
    (record,) = fake.posts()
    thumb = record["embed"]["external"]["thumb"]
    assert thumb["$type"] == "blob" and thumb["mimeType"] == "image/png"
    assert thumb["ref"]["$link"] in fake.blobs
    assert result.media_ids == (thumb["ref"]["$link"],)


async def test_bad_thumb_posts_the_card_without_it(fake: FakeBluesky, images: FakeImages) -> None:
    channel = channel_for(fake)
    try:
        result = await channel.post(outgoing(f"Hours {LINK}", images=(images.url("big.png"),)))
    finally:
        await channel.close()
    assert len(fake.posts()) == 1 and fake.blobs == {}
    assert result.notes and "more than 1000000 bytes" in result.notes[0]


async def test_wrong_app_password_is_permanent(fake: FakeBluesky) -> None:
    channel = channel_for(fake, password="wrong")
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing("No"))
    finally:
        await channel.close()
    assert caught.value.code == "auth" and "Invalid identifier or password" in caught.value.reason


async def test_429_is_transient_with_the_reset(fake: FakeBluesky) -> None:
    fake.script("429")
    channel = channel_for(fake)
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing("Too fast"))
    finally:
        await channel.close()
    error = caught.value
    assert error.code == "rate_limited" and "RateLimitExceeded" in error.reason
    assert error.retry_at is not None and 1 < error.retry_at - time.time() <= 4
    assert error.rate_limit is not None and error.rate_limit.remaining == 0


async def test_server_error_is_transient(fake: FakeBluesky) -> None:
    fake.script("500")
    channel = channel_for(fake)
    try:
        with pytest.raises(TransientPostError):
            await channel.post(outgoing("Oops"))
    finally:
        await channel.close()
    assert fake.posts() == []


async def test_expired_session_logs_in_again_once(fake: FakeBluesky) -> None:
    channel = channel_for(fake)
    try:
        await channel.post(outgoing("First"))
        fake.script("expired")
        await channel.post(outgoing("Second"))
    finally:
        await channel.close()
    assert [r["text"] for r in fake.posts()] == ["First", "Second"]
    assert fake.sessions_created == 2


async def test_invalid_record_is_permanent_with_the_pds_reason(fake: FakeBluesky) -> None:
    channel = channel_for(fake)
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing("x" * 301))
    finally:
        await channel.close()
    assert "300 graphemes" in caught.value.reason and caught.value.code == "invalid:InvalidRequest"


async def test_find_recent_finds_a_post_by_its_link(fake: FakeBluesky) -> None:
    channel = channel_for(fake)
    try:
        made = await channel.post(outgoing(f"Hours {LINK}"))
        found = await channel.find_recent(LINK)
        missing = await channel.find_recent("https://www.example.gov.uk/none")
    finally:
        await channel.close()
    assert found is not None and found.post_id == made.post_id
    assert missing is None
