import pytest

from services.directory.handles import InvalidHandle, handle_key, normalise_handle


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("suety", "suety"),
        ("@suety", "suety"),
        ("  @Shaun32 ", "Shaun32"),
        ("a", "a"),
        ("x" * 15, "x" * 15),
        ("russ_t_uk", "russ_t_uk"),
        ("_", "_"),
    ],
)
def test_valid_x_handles_are_stored_without_the_at(given: str, stored: str) -> None:
    assert normalise_handle("twitter", given) == stored


@pytest.mark.parametrize(
    "given", ["", "@", "@@suety", "a b", "x" * 16, "@" + "x" * 16, "sue-ty", "sué", "sue.ty", "suety!"]
)
def test_invalid_x_handles_are_refused_quoting_the_handle(given: str) -> None:
    with pytest.raises(InvalidHandle) as caught:
        normalise_handle("twitter", given)
    assert caught.value.reason.startswith(f"invalid X handle {given!r}: ")
    assert "1–15 letters, digits or underscores" in caught.value.reason


def test_other_platforms_need_a_handle_without_spaces() -> None:
    assert normalise_handle("mastodon", "@sue@social.example") == "sue@social.example"
    with pytest.raises(InvalidHandle, match="invalid Mastodon handle 'a b'"):
        normalise_handle("mastodon", "a b")
    with pytest.raises(InvalidHandle, match="empty"):
        normalise_handle("bluesky", "@")


def test_uniqueness_key_ignores_case_but_not_platform() -> None:
    assert handle_key("twitter", "SueTy") == handle_key("twitter", "suety")
    assert handle_key("twitter", "suety") != handle_key("mastodon", "suety")
