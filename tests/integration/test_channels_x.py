"""The X channel against the loopback X API over TLS, through tweepy's real AsyncClient: posts,
rate-limit headers on success and on 429, typed errors with X's reason, image upload and attach
(and posting without the image when the upload fails), and finding a post by its link.

No broker needed: the channel is called directly."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.publisher.channels import (
    DuplicatePostError,
    OutgoingPost,
    PermanentPostError,
    TransientPostError,
    XChannel,
)
from tests.fakes.images import FakeImages, tiny_png
from tests.fakes.x_api import CREDENTIALS, FakeXApi

LINK = "https://www.example.gov.uk/news/bins"


@pytest.fixture
def fake_x(tmp_path: Path) -> Iterator[FakeXApi]:
    with FakeXApi(tmp_path, rate_limit_reset_in=5) as fake:
        yield fake


@pytest.fixture(scope="module")
def images() -> Iterator[FakeImages]:
    with FakeImages() as server:
        yield server


def channel_for(
    fake: FakeXApi, *, secret: str | None = None, allow_private_networks: bool = True
) -> XChannel:
    """The channel under test; private networks allowed because the test's image server is on
    loopback (the default, refusing them, has a test of its own)."""
    creds = dict(CREDENTIALS)
    if secret is not None:
        creds["HERALD_X_API_SECRET"] = secret
    return XChannel(
        account="corporate",
        credentials=tuple(
            SecretStr(creds[name])
            for name in (
                "HERALD_X_API_KEY",
                "HERALD_X_API_SECRET",
                "HERALD_X_ACCESS_TOKEN",
                "HERALD_X_ACCESS_TOKEN_SECRET",
            )
        ),  # type: ignore[arg-type]
        base_url=fake.base_url,
        ca_bundle=fake.ca_path,
        allow_private_networks=allow_private_networks,
    )


def outgoing(text: str, *, link: str | None = LINK, images: tuple[str, ...] = ()) -> OutgoingPost:
    return OutgoingPost(
        text=text, idempotency_key=f"item-1|x:corporate-{text[:8]}", link=link, title=text, image_urls=images
    )


async def test_post_reports_x_rate_limit_headers(fake_x: FakeXApi) -> None:
    channel = channel_for(fake_x)
    try:
        result = await channel.post(outgoing(f"Bin collections change {LINK}"))
    finally:
        await channel.close()
    assert [p["id"] for p in fake_x.posts] == [result.post_id]
    assert fake_x.posts[0]["text"] == f"Bin collections change {LINK}"
    assert result.post_url == f"https://x.com/i/web/status/{result.post_id}"
    assert result.rate_limit_remaining == 99
    assert result.rate_limit_reset_at is not None and result.rate_limit_reset_at > time.time() + 800
    assert not result.dry_run and result.notes == ()


async def test_429_is_transient_with_xs_reset_time(fake_x: FakeXApi) -> None:
    fake_x.script("429")
    channel = channel_for(fake_x)
    before = int(time.time())
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing("Rate limited"))
    finally:
        await channel.close()
    error = caught.value
    assert error.code == "rate_limited"
    assert error.retry_at is not None and before + 5 <= error.retry_at <= time.time() + 5
    assert error.rate_limit is not None and error.rate_limit.remaining == 0
    assert 3 <= (error.retry_after or 0) <= 6
    assert fake_x.posts == []


async def test_bad_credentials_are_permanent_with_xs_reason(fake_x: FakeXApi) -> None:
    channel = channel_for(fake_x, secret="not-the-secret")
    try:
        with pytest.raises(PermanentPostError) as caught:
            await channel.post(outgoing("Wrong secret"))
    finally:
        await channel.close()
    assert caught.value.code == "auth"
    assert "OAuth signature does not verify" in caught.value.reason
    assert fake_x.posts == []


async def test_duplicate_content_is_a_duplicate_error(fake_x: FakeXApi) -> None:
    channel = channel_for(fake_x)
    try:
        await channel.post(outgoing("Same words"))
        with pytest.raises(DuplicatePostError) as caught:
            await channel.post(outgoing("Same words"))
    finally:
        await channel.close()
    assert "duplicate content" in caught.value.reason
    assert len(fake_x.posts) == 1


async def test_server_error_is_transient(fake_x: FakeXApi) -> None:
    fake_x.script("500")
    channel = channel_for(fake_x)
    try:
        with pytest.raises(TransientPostError) as caught:
            await channel.post(outgoing("Server trouble"))
    finally:
        await channel.close()
    assert caught.value.code == "http_500" and not caught.value.maybe_sent


async def test_images_are_uploaded_and_attached(fake_x: FakeXApi, images: FakeImages) -> None:
    channel = channel_for(fake_x)
    try:
        result = await channel.post(
            outgoing("With pictures", images=(images.url("img/a.png"), images.url("img/bb.png")))
        )
    finally:
        await channel.close()
    assert len(fake_x.media) == 2
    assert fake_x.media[0]["bytes"] == tiny_png(len("a.png"))
    assert fake_x.media[0]["media_category"] == "tweet_image"
    assert fake_x.media[0]["content_type"] == "image/png"
    assert fake_x.posts[0]["media_ids"] == [m["id"] for m in fake_x.media] == list(result.media_ids)
    assert result.notes == ()


async def test_failed_upload_posts_without_the_image_and_says_so(
    fake_x: FakeXApi, images: FakeImages
) -> None:
    fake_x.fail_uploads(1)
    channel = channel_for(fake_x)
    try:
        result = await channel.post(
            outgoing(
                "Pictures that fail",
                images=(images.url("img/a.png"), images.url("page.png"), images.url("big.png")),
            )
        )
    finally:
        await channel.close()
    assert fake_x.posts[0]["media_ids"] == [] and result.media_ids == ()
    assert len(result.notes) == 3
    assert "upload answered 400" in result.notes[0] and "media type unrecognized" in result.notes[0]
    assert "text/html, not an image" in result.notes[1]
    assert "more than" in result.notes[2]


async def test_images_on_private_addresses_are_refused_and_the_post_goes_without_them(
    fake_x: FakeXApi, images: FakeImages
) -> None:
    """An image URL comes from a feed: one on loopback (or a cloud metadata address) must not be
    fetched unless HERALD_ALLOW_PRIVATE_NETWORKS=1 — the post still goes, the notes say why."""
    channel = channel_for(fake_x, allow_private_networks=False)
    fetched_before = len(images.requests)  # the image server is shared by the module's tests
    try:
        result = await channel.post(
            outgoing(
                "Pictures from inside",
                images=(images.url("img/a.png"), "http://169.254.169.254/latest/meta-data/x.png"),
            )
        )
    finally:
        await channel.close()
    assert fake_x.media == [] and fake_x.posts[0]["media_ids"] == [] and result.media_ids == ()
    assert len(result.notes) == 2
    assert "refused" in result.notes[0] and "a loopback address" in result.notes[0]
    assert "refused" in result.notes[1] and "cloud metadata" in result.notes[1]
    assert len(images.requests) == fetched_before  # never asked


async def test_find_recent_finds_the_post_by_its_link(fake_x: FakeXApi) -> None:
    fake_x.add_existing_post("Older news https://www.example.gov.uk/news/older")
    channel = channel_for(fake_x)
    try:
        made = await channel.post(outgoing(f"Bin collections change {LINK}"))
        fake_x.add_existing_post("Newer news https://www.example.gov.uk/news/newer")
        found = await channel.find_recent(LINK)
        missing = await channel.find_recent("https://www.example.gov.uk/news/never-posted")
    finally:
        await channel.close()
    assert found is not None and found.post_id == made.post_id
    assert missing is None
    assert channel.can_find_recent


async def test_find_recent_429_is_transient(fake_x: FakeXApi) -> None:
    channel = channel_for(fake_x)
    try:
        await channel.find_recent(LINK)  # learns the user id
        fake_x.script("429")
        with pytest.raises(TransientPostError) as caught:
            await channel.find_recent(LINK)
    finally:
        await channel.close()
    assert caught.value.code == "rate_limited" and caught.value.retry_at is not None
