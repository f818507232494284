"""WebSub discovery, secrets, intent tokens and signatures. Plain data only."""

from __future__ import annotations

import json

from services.feed_ingest import websub

FEED = "https://www.lowshire.gov.uk/news.rss"


def test_hub_from_atom_link_in_rss():
    body = b"""<?xml version="1.0"?><rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
    <atom:link rel="self" href="https://www.lowshire.gov.uk/news.rss" type="application/rss+xml"/>
    <atom:link href='/hub' rel='hub'/></channel></rss>"""
    found = websub.discover(body, {}, feed_url=FEED)
    assert found == websub.Discovery(hub="https://www.lowshire.gov.uk/hub", topic=FEED)


def test_http_link_header_wins_and_json_feed_hubs_are_read():
    headers = {"link": '<https://hub.example/>; rel="hub", <https://feeds.example/t>; rel="self"'}
    found = websub.discover(b'<feed><link rel="hub" href="https://other/"/></feed>', headers, feed_url=FEED)
    assert found == websub.Discovery(hub="https://hub.example/", topic="https://feeds.example/t")
    doc = json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "hubs": [{"type": "WebSub", "url": "https://h/"}]}
    )
    assert websub.discover(doc.encode(), None, feed_url=FEED) == websub.Discovery(
        hub="https://h/", topic=FEED
    )
    assert websub.discover(b"<rss><channel/></rss>", None, feed_url=FEED) is None


def test_signatures_are_checked():
    secret = websub.feed_secret("master", "feed-1")
    assert secret != websub.feed_secret("master", "feed-2") and len(secret) <= 200
    body = b"<rss/>"
    for method in ("sha1", "sha256", "sha512"):
        assert websub.signature_valid(secret, body, websub.sign(secret, body, method))
    assert not websub.signature_valid(secret, body + b" ", websub.sign(secret, body))
    assert not websub.signature_valid(secret, body, None)
    assert not websub.signature_valid(secret, body, "md5=abc")


def test_intent_is_confirmed_only_for_what_was_asked():
    url = websub.callback_url("https://herald.example/", "m", "feed-1", FEED)
    assert url.startswith("https://herald.example/websub/feed-1?t=")
    token = url.split("t=", 1)[1]
    assert websub.intent_confirmed("m", "feed-1", FEED, token)
    assert not websub.intent_confirmed("m", "feed-1", "https://evil.example/", token)
    assert not websub.intent_confirmed("m", "feed-2", FEED, token)


def test_leases_are_renewed_before_they_run_out():
    assert websub.needs_renewal(None, 1000, 0)
    assert not websub.needs_renewal(1000, 1000, 500)
    assert websub.needs_renewal(1000, 1000, 800)
