"""The directory's check settings: one line naming what is wrong, and the checkers they ask for."""

import pytest

from services.directory.checks.runner import checkers_from
from shared.settings import SettingsError, load_settings

X = {
    "directory_x_api_key": "k",
    "directory_x_api_secret": "s",
    "directory_x_access_token": "t",
    "directory_x_access_token_secret": "ts",
}


def test_checks_are_off_unless_named_and_each_named_platform_gets_its_checker() -> None:
    assert checkers_from(load_settings()) == {}
    settings = load_settings(directory_checks=" X, bluesky,mastodon,x ", **X)
    assert settings.directory.directory_checks == ["x", "bluesky", "mastodon"]
    assert {p: c.platform for p, c in checkers_from(settings).items()} == {
        "x": "x",
        "bluesky": "bluesky",
        "mastodon": "mastodon",
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (
            {"directory_checks": "x,myspace", **X},
            "HERALD_DIRECTORY_CHECKS: Value error, 'myspace' cannot be checked",
        ),
        ({"directory_checks": "x"}, "X checks and the X List need HERALD_DIRECTORY_X_API_KEY"),
        ({"directory_x_list_id": "123"}, "X checks and the X List need HERALD_DIRECTORY_X_API_KEY"),
        ({"directory_x_api_base_url": "http://127.0.0.1:1"}, "HERALD_DIRECTORY_X_API_BASE_URL: Value error"),
    ],
)
def test_bad_check_settings_are_one_line(given: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**given)
    assert message in str(refused.value) and "\n" not in str(refused.value)
