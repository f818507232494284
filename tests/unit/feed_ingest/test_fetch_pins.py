"""The fetcher's vetted addresses per named host (`FeedFetcher._pin`): looked up once per TTL,
handed to libcurl as RESOLVE entries, refused if any address is off limits, and bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feed_ingest import fetch
from services.feed_ingest.fetch import FeedFetcher
from shared.netsafety import UnsafeURL
from shared.settings import HeraldSettings


def fetcher(tmp_path: Path, answers: dict[str, list[str]], calls: list[str]) -> FeedFetcher:
    async def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers.get(host, ["93.184.216.34"])

    settings = HeraldSettings(state_dir=tmp_path, allow_private_networks=False)  # type: ignore[arg-type]
    return FeedFetcher(settings, resolver=resolver)


async def test_a_name_is_looked_up_once_per_ttl_and_pinned(tmp_path: Path) -> None:
    calls: list[str] = []
    pins = fetcher(tmp_path, {"news.lowshire.example": ["93.184.216.34", "2606:2800:220:1::1"]}, calls)
    first = await pins._pin("https://news.lowshire.example/feed", "news.lowshire.example", 443)
    again = await pins._pin("https://news.lowshire.example/other", "news.lowshire.example", 443)
    assert (
        first
        == again
        == [
            "-news.lowshire.example:443",
            "news.lowshire.example:443:93.184.216.34,[2606:2800:220:1::1]",
        ]
    )
    assert calls == ["news.lowshire.example"]
    assert await pins._pin("https://93.184.216.34/feed", "93.184.216.34", 443) is None  # a literal


async def test_one_private_address_refuses_the_name_and_a_private_literal_is_refused(tmp_path: Path) -> None:
    pins = fetcher(tmp_path, {"mixed.lowshire.example": ["93.184.216.34", "10.0.0.7"]}, [])
    with pytest.raises(UnsafeURL) as caught:
        await pins._pin("https://mixed.lowshire.example/feed", "mixed.lowshire.example", 443)
    assert caught.value.kind == "unsafe_address" and "10.0.0.7" in caught.value.reason
    with pytest.raises(UnsafeURL):
        await pins._pin("http://169.254.169.254/latest", "169.254.169.254", 80)


async def test_pinned_hosts_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch, "PINNED_HOSTS", 8)
    pins = fetcher(tmp_path, {}, [])
    for n in range(50):
        await pins._pin(f"https://host{n}.example/feed", f"host{n}.example", 443)
    assert len(pins._pins) <= 8
