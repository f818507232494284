"""`join_url` is `urljoin`, only faster for plain absolute links (issue 5: the parse's speed
must not change a single link)."""

from __future__ import annotations

import random
from collections.abc import Callable
from urllib.parse import urljoin

import pytest

from services.feed_ingest.urls import is_plain_absolute, join_url

BASES = ["http://127.0.0.1/feeds/1.xml", "https://www.lowshire.gov.uk/news/rss", "http://h:8080/a/b?c#d", ""]


def _either(join: Callable[[str, str], str], base: str, link: str) -> str:
    """The joined URL, or that it was refused (urljoin raises ValueError on a bad IPv6 host)."""
    try:
        return join(base, link)
    except ValueError:
        return "ValueError"


@pytest.mark.parametrize(
    "link",
    [
        "https://www.lowshire.gov.uk/news/bins?week=2#top",
        "HTTP://www.lowshire.gov.uk/news",  # upper-case scheme: urljoin lower-cases it
        "http://h/a?",  # an empty query: urljoin drops the "?"
        "http://h/a#",
        "http://h/a;",  # path parameters
        "http://h/a;p?q",
        "http:///h/a",
        "http://h/a b",
        " http://h/a",
        "http://h/a\tb",
        "/news/bins",
        "../up",
        "//cdn.example/x.png",
        "mailto:press@lowshire.gov.uk",
        "http://[::1]/a",
        "http://user@h/a",
    ],
)
def test_the_same_as_urljoin_on_tricky_links(link: str) -> None:
    for base in BASES:
        assert _either(join_url, base, link) == _either(urljoin, base, link)


@pytest.mark.parametrize(
    ("heads", "alphabet"),
    [
        (
            ["http://", "https://", "HTTP://", "http:///", "http:", "//", "ftp://", ""],
            "aZ09.-_~!$&'()*+,=:@%/?#;[] \t\\é",
        ),
        (["http://", "https://"], "ab.-:9/?#;%&=_~"),  # mostly plain: the fast path's own ground
    ],
)
def test_the_same_as_urljoin_on_random_links(heads: list[str], alphabet: str) -> None:
    rng = random.Random(5)
    plain = 0
    for _ in range(20_000):
        link = rng.choice(heads) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        base = rng.choice(BASES)
        plain += is_plain_absolute(link)
        assert _either(join_url, base, link) == _either(urljoin, base, link), (base, link)
    assert plain > 50  # the fast path was taken often enough to mean something
