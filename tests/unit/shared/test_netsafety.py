"""Which URLs Herald may fetch (issue 5 §6): schemes, address classes, resolution."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from shared.netsafety import AddressPolicy, UnsafeURL, VettingResolver, address_problem, check_url, split_url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x.example/feed",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "x.example/feed",
        "http:///nohost",
        "http://[::1",
    ],
)
def test_only_http_and_https_urls_with_a_host(url: str):
    with pytest.raises(UnsafeURL) as caught:
        split_url(url)
    assert caught.value.kind == "bad_url"


def test_split_url_defaults_ports():
    assert split_url("https://X.example/f") == ("https", "x.example", 443)
    assert split_url("http://x.example:8080/f") == ("http", "x.example", 8080)


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("172.16.5.4", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_named(address: str, words: str):
    problem = address_problem(ipaddress.ip_address(address))
    assert problem is not None and words in problem


@pytest.mark.parametrize("address", ["8.8.8.8", "2a00:1450:4009:81f::200e", "151.101.0.81"])
def test_public_addresses_pass(address: str):
    assert address_problem(ipaddress.ip_address(address)) is None


def fixed_resolver(mapping: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return mapping[host]

    return resolve


async def test_a_host_resolving_to_a_private_address_is_refused_with_the_reason():
    resolver = fixed_resolver({"intranet.lowshire.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(UnsafeURL) as caught:
        await check_url("https://intranet.lowshire.example/feed", allow_private=False, resolver=resolver)
    assert caught.value.kind == "unsafe_address"
    assert "10.0.0.5" in caught.value.reason and "private" in caught.value.reason
    assert "HERALD_ALLOW_PRIVATE_NETWORKS=1" in caught.value.reason


async def test_literal_addresses_need_no_resolver():
    with pytest.raises(UnsafeURL) as caught:
        await check_url(
            "http://169.254.169.254/latest/meta-data", allow_private=False, resolver=fixed_resolver({})
        )
    assert "link-local" in caught.value.reason


async def test_public_hosts_pass_and_private_ones_pass_when_allowed():
    resolver = fixed_resolver({"www.lowshire.example": ["93.184.216.34"], "localhost": ["127.0.0.1"]})
    await check_url("https://www.lowshire.example/feed", allow_private=False, resolver=resolver)
    await check_url("http://localhost:8080/feed", allow_private=True, resolver=resolver)


async def test_allowing_private_networks_still_checks_the_scheme():
    with pytest.raises(UnsafeURL) as caught:
        await check_url("file:///etc/passwd", allow_private=True)
    assert caught.value.kind == "bad_url"


async def test_an_unresolvable_host_is_its_own_error():
    with pytest.raises(UnsafeURL) as caught:
        await check_url("https://nowhere.invalid/feed", allow_private=False, resolver=fixed_resolver({}))
    assert caught.value.kind == "unresolvable"


def test_every_socket_is_vetted_before_it_connects():
    """The session's socket factory sees the address of every new connection, IP-literal hosts
    included (aiohttp resolves those itself, never through the resolver)."""
    stream = (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "")
    guarded = VettingResolver(AddressPolicy(allow_private=False))
    for address, words in (
        ("127.0.0.1", "loopback"),
        ("169.254.169.254", "metadata"),
        ("10.1.2.3", "private"),
    ):
        with pytest.raises(UnsafeURL) as caught:
            guarded.socket_for((*stream, (address, 80)))
        assert caught.value.kind == "unsafe_address" and words in caught.value.reason
    with pytest.raises(UnsafeURL):
        guarded.socket_for(
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("::ffff:127.0.0.1", 80, 0, 0))
        )
    public = guarded.socket_for((*stream, ("93.184.216.34", 443)))
    allowed = VettingResolver(AddressPolicy(allow_private=True)).socket_for((*stream, ("127.0.0.1", 80)))
    for made in (public, allowed):
        assert made.family == socket.AF_INET and made.type == socket.SOCK_STREAM
        made.close()
