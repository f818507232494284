"""WebSub subscriber (W3C Recommendation, https://www.w3.org/TR/websub/), the parts without state.

- Discovery: the hub and the topic (`self`) from the HTTP `Link` header or the document
  (`<link rel="hub">`, `<atom:link rel="hub">`, JSON Feed `hubs`), §4.
- Secrets: each feed's `hub.secret` is an HMAC of the master secret and the feed id, so any
  worker can check a distribution's signature without shared state; the callback URL carries a
  token binding the feed id to the topic we asked for, so intent verification (§5.3) confirms
  only subscriptions Herald requested, on whichever worker the hub's GET lands.
- Signatures: `X-Hub-Signature: sha1|sha256|sha384|sha512=<hex>` over the raw body (§8).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, urljoin

import aiohttp

from shared.netsafety import UnsafeURL

#: How much of a document is searched for hub links (they sit in the header part).
DISCOVERY_BYTES = 64 * 1024
#: How much of a hub's refusal is quoted in the error (the rest is never read).
ERROR_BYTES = 200
#: Renew a lease when less than this share of it is left.
RENEW_WHEN_LEFT = 0.25
SIGNATURE_METHODS = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
    "sha384": hashlib.sha384,
    "sha512": hashlib.sha512,
}

_LINK_TAG = re.compile(rb"<(?:[A-Za-z0-9_]+:)?link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_HEADER_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


@dataclass(frozen=True)
class Discovery:
    hub: str
    topic: str


def discover(body: bytes, headers: dict[str, str] | None, *, feed_url: str) -> Discovery | None:
    """The hub and topic a feed advertises, or None. HTTP Link header first (§4: it wins)."""
    hubs: list[str] = []
    selves: list[str] = []
    for url, rels in _header_links((headers or {}).get("link", "")):
        (hubs if "hub" in rels else selves if "self" in rels else []).append(url)
    head = body[:DISCOVERY_BYTES]
    if head.lstrip()[:1] == b"{":
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        if isinstance(document, dict):
            for hub in document.get("hubs") or ():
                if isinstance(hub, dict) and str(hub.get("type", "")).lower() == "websub" and hub.get("url"):
                    hubs.append(str(hub["url"]))
            if isinstance(document.get("feed_url"), str):
                selves.append(document["feed_url"])
    else:
        for tag in _LINK_TAG.findall(head):
            attrs = {
                m.group(1).decode(errors="replace").lower(): (m.group(2) or m.group(3) or b"").decode(
                    errors="replace"
                )
                for m in _ATTR.finditer(tag)
            }
            rels = attrs.get("rel", "").lower().split()
            if attrs.get("href") and "hub" in rels:
                hubs.append(attrs["href"])
            elif attrs.get("href") and "self" in rels:
                selves.append(attrs["href"])
    if not hubs:
        return None
    return Discovery(
        hub=urljoin(feed_url, hubs[0]), topic=urljoin(feed_url, selves[0]) if selves else feed_url
    )


def _header_links(value: str) -> list[tuple[str, set[str]]]:
    found = []
    for match in _HEADER_LINK.finditer(value):
        rels: set[str] = set()
        for param in match.group(2).split(";"):
            name, _, raw = param.strip().partition("=")
            if name.strip().lower() == "rel":
                rels.update(raw.strip().strip('"').lower().split())
        found.append((match.group(1).strip(), rels))
    return found


def feed_secret(master: str, feed_id: str) -> str:
    """The `hub.secret` for one feed (hex, 64 chars: under the spec's 200-byte limit)."""
    return hmac.new(master.encode(), b"websub-secret\x1f" + feed_id.encode(), hashlib.sha256).hexdigest()


def callback_token(master: str, feed_id: str, topic: str) -> str:
    return hmac.new(
        master.encode(), b"websub-callback\x1f" + f"{feed_id}\x1f{topic}".encode(), hashlib.sha256
    ).hexdigest()[:32]


def callback_url(base: str, master: str, feed_id: str, topic: str) -> str:
    return f"{base.rstrip('/')}/websub/{quote(feed_id)}?t={callback_token(master, feed_id, topic)}"


def intent_confirmed(master: str, feed_id: str, topic: str, token: str) -> bool:
    """Did Herald ask to subscribe `feed_id` to `topic`? (the token in our own callback URL)"""
    return hmac.compare_digest(callback_token(master, feed_id, topic), token or "")


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Check `X-Hub-Signature: method=hex` against the body; unknown methods and absence fail."""
    if not header or "=" not in header:
        return False
    method, _, given = header.strip().partition("=")
    digest = SIGNATURE_METHODS.get(method.strip().lower())
    if digest is None:
        return False
    expected = hmac.new(secret.encode(), body, digest).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def sign(secret: str, body: bytes, method: str = "sha256") -> str:
    """The header value a hub would send (the fake hub and the benchmark use it)."""
    return f"{method}={hmac.new(secret.encode(), body, SIGNATURE_METHODS[method]).hexdigest()}"


def needs_renewal(lease_until_ts: float | None, lease_seconds: int, now_ts: float) -> bool:
    return lease_until_ts is None or lease_until_ts - now_ts < lease_seconds * RENEW_WHEN_LEFT


async def subscribe(
    session: aiohttp.ClientSession,
    *,
    hub: str,
    topic: str,
    callback: str,
    secret: str,
    lease_seconds: int,
    timeout: float = 10.0,
) -> None:
    """POST the subscription request (§5.1); raise `WebSubError` unless the hub accepts it (2xx).

    `session` is the fetcher's: the hub's address is vetted like a feed's."""
    form = {
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.callback": callback,
        "hub.secret": secret,
        "hub.lease_seconds": str(lease_seconds),
    }
    try:
        async with session.post(hub, data=form, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            status = response.status
            said = b"" if 200 <= status < 300 else await response.content.read(ERROR_BYTES)
    except UnsafeURL as exc:  # the hub's address is off limits
        raise WebSubError(f"hub {hub} refused: {exc.reason}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise WebSubError(f"hub {hub} unreachable: {type(exc).__name__}: {exc}") from None
    if not 200 <= status < 300:
        raise WebSubError(
            f"hub {hub} refused the subscription: HTTP {status} {said.decode(errors='replace')}"
        )


class WebSubError(Exception):
    pass
