import pytest
from pydantic import SecretStr

from services.directory.access import Unauthorized, access_level

TOKEN = SecretStr("s3cret-token")


def test_no_header_is_public() -> None:
    assert access_level(None, TOKEN) == "public"
    assert access_level("", TOKEN) == "public"
    assert access_level(None, None) == "public"


def test_the_admin_token_gives_admin() -> None:
    assert access_level("Bearer s3cret-token", TOKEN) == "admin"
    assert access_level("bearer   s3cret-token ", TOKEN) == "admin"


@pytest.mark.parametrize(
    ("header", "token", "reason"),
    [
        ("Bearer wrong", TOKEN, "invalid admin token"),
        ("Bearer s3cret-token-and-more", TOKEN, "invalid admin token"),
        ("Basic czNjcmV0", TOKEN, "malformed Authorization header"),
        ("Bearer", TOKEN, "malformed Authorization header"),
        ("Bearer s3cret-token", None, "no admin token is configured"),
        ("Bearer s3cret-token", SecretStr(""), "no admin token is configured"),
    ],
)
def test_a_bad_credential_is_refused_without_echoing_it(
    header: str, token: SecretStr | None, reason: str
) -> None:
    with pytest.raises(Unauthorized) as caught:
        access_level(header, token)
    assert caught.value.reason.startswith(reason)
    assert "s3cret" not in caught.value.reason and "wrong" not in caught.value.reason
