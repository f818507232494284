"""Per-platform handle rules: what people paste becomes one canonical handle and profile URL."""

import pytest

from services.directory.handles import RULES, InvalidHandle, canonical, handle_key
from shared.events.directory import PLATFORMS


@pytest.mark.parametrize(
    ("platform", "given", "handle", "url"),
    [
        ("x", "@suety", "suety", "https://x.com/suety"),
        ("x", " https://twitter.com/Shaun32 ", "Shaun32", "https://x.com/Shaun32"),
        ("x", "https://x.com/russ_t_uk/", "russ_t_uk", "https://x.com/russ_t_uk"),
        ("mastodon", "@sue@Social.Example", "@sue@social.example", "https://social.example/@sue"),
        ("mastodon", "sue@social.example", "@sue@social.example", "https://social.example/@sue"),
        ("mastodon", "https://social.example/@sue", "@sue@social.example", "https://social.example/@sue"),
        ("bluesky", "@Sue.bsky.social", "sue.bsky.social", "https://bsky.app/profile/sue.bsky.social"),
        (
            "bluesky",
            "https://bsky.app/profile/devon.gov.uk",
            "devon.gov.uk",
            "https://bsky.app/profile/devon.gov.uk",
        ),
        ("facebook", "DevonCC", "https://www.facebook.com/devoncc", "https://www.facebook.com/devoncc"),
        (
            "facebook",
            "https://m.facebook.com/DevonCC/",
            "https://www.facebook.com/devoncc",
            "https://www.facebook.com/devoncc",
        ),
        (
            "facebook",
            "https://www.facebook.com/profile.php?id=100012345",
            "https://www.facebook.com/profile.php?id=100012345",
            "https://www.facebook.com/profile.php?id=100012345",
        ),
        ("youtube", "@DevonCC", "https://www.youtube.com/@devoncc", "https://www.youtube.com/@devoncc"),
        (
            "youtube",
            "https://youtube.com/channel/UCabcdefghijklmnopqrstuv",
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
            "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv",
        ),
        (
            "linkedin",
            "https://uk.linkedin.com/in/Sue-T",
            "https://www.linkedin.com/in/sue-t",
            "https://www.linkedin.com/in/sue-t",
        ),
        ("instagram", "https://instagram.com/Devon_CC/", "devon_cc", "https://www.instagram.com/devon_cc/"),
        ("threads", "https://www.threads.net/@devon.cc", "devon.cc", "https://www.threads.net/@devon.cc"),
        ("tiktok", "@devon.cc", "devon.cc", "https://www.tiktok.com/@devon.cc"),
        (
            "flickr",
            "https://www.flickr.com/photos/devoncc/",
            "devoncc",
            "https://www.flickr.com/photos/devoncc/",
        ),
    ],
)
def test_accepted_forms_become_the_canonical_one(platform: str, given: str, handle: str, url: str) -> None:
    found = canonical(platform, given)
    assert (found.handle, found.url) == (handle, url)


@pytest.mark.parametrize(
    ("platform", "given"),
    [
        ("x", "a b"),
        ("x", "x" * 16),
        ("x", "sue.ty"),
        ("x", "https://evil.example/suety"),
        ("mastodon", "sue"),
        ("mastodon", "sue@nohost"),
        ("mastodon", "https://social.example/sue"),
        ("bluesky", "sue"),
        ("facebook", "abc"),
        ("youtube", "@a"),
        ("linkedin", "https://www.linkedin.com/company/devon"),
        ("instagram", "a b"),
        ("tiktok", "a"),
        ("flickr", ""),
    ],
)
def test_refusals_state_the_rule_and_never_quote_the_input(platform: str, given: str) -> None:
    with pytest.raises(InvalidHandle) as caught:
        canonical(platform, given)
    assert caught.value.reason == RULES[platform]  # a fixed sentence: the input is never in it


def test_every_platform_has_a_rule() -> None:
    assert set(RULES) == set(PLATFORMS)


def test_uniqueness_key_ignores_case_but_not_platform() -> None:
    assert handle_key("x", "SueTy") == handle_key("x", "suety")
    assert handle_key("x", "suety") != handle_key("instagram", "suety")
